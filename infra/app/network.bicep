// The app's own virtual network, made only for a static outbound address: one subnet delegated to Flex
// Consumption's VNet integration, behind a NAT gateway with one static public IP. Every call the app makes
// (ARM, the clusters' API servers, storage) then leaves from that IP, which clusters with authorized IP ranges
// can allow. Private clusters need a subnet that reaches them instead (main.bicep's virtualNetworkSubnetId).

param vnetName string
param natGatewayName string
param publicIpName string
param location string = resourceGroup().location
param tags object = {}

@description('Address space of the VNet, all of it the app\'s subnet. Each instance of the app takes an address; /26 leaves room for the plan\'s 40.')
param addressPrefix string

resource publicIp 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: publicIpName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
  }
}

resource natGateway 'Microsoft.Network/natGateways@2024-05-01' = {
  name: natGatewayName
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: 4
    publicIpAddresses: [
      {
        id: publicIp.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: vnetName
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [addressPrefix]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: addressPrefix
          natGateway: {
            id: natGateway.id
          }
          // The delegation Flex Consumption's VNet integration requires.
          delegations: [
            {
              name: 'flex-consumption'
              properties: {
                serviceName: 'Microsoft.App/environments'
              }
            }
          ]
        }
      }
    ]
  }
}

output subnetId string = '${vnet.id}/subnets/app'
output outboundIp string = publicIp.properties.ipAddress
