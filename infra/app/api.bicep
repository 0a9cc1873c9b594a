// The function app on a Flex Consumption plan. Everything it reaches, it reaches with its user-assigned identity:
// host storage, the deployment package, Application Insights, ARM and the Kubernetes API.

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('azd finds the app to deploy `api` to by this tag.')
param serviceName string = 'api'

@description('Resource id of the user-assigned identity.')
param identityId string

@description('Client id of the user-assigned identity.')
param identityClientId string

param storageAccountName string
param deploymentContainerName string
param applicationInsightsName string

@description('Durable task hub: letters and digits only, 3 to 45 characters, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHubName string

@description('Settings read by src/config.ts; merged with the host settings below.')
param appSettings object

@description('Subnet of the VNet integration (delegated to Microsoft.App/environments); empty: none.')
param virtualNetworkSubnetId string = ''

@description('Endpoint of the Durable Task Scheduler that holds the task hub; empty: the task hub is in host storage (Azure Storage provider).')
param durableTaskSchedulerEndpoint string = ''

@description('Upper bound of instances Flex Consumption scales out to. Every instance is one more client of the clusters\' API servers; runs are cheap to follow, so a modest bound is plenty.')
@minValue(1)
@maxValue(1000)
param maximumInstanceCount int = 40

@allowed([512, 2048, 4096])
param instanceMemoryMB int = 2048

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Read by the Functions host and extensions, not by the app. Identity-based storage: the host (and Durable's
// Azure Storage provider, the default backend) reach the account's blob, queue and table services at the URIs
// the account itself reports (so the storage suffix of any cloud, not only core.windows.net, which the
// account-name form assumes), and authenticate as the identity named by its client id. Flex Consumption sets
// the worker runtime and its version from functionAppConfig and rejects FUNCTIONS_WORKER_RUNTIME /
// FUNCTIONS_EXTENSION_VERSION as settings.
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: storage.properties.primaryEndpoints.table
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  TASK_HUB_NAME: taskHubName
}

// The connection the packaged host.json's azureManaged provider names (scripts/durable-backend.ts), only with the
// scheduler: identity-based, the same identity by its client id. A scheduler has no keys, so nothing secret.
var schedulerSettings = {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource api 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // Key Vault references in app settings (WEBHOOK_SIGNING_SECRET, docs/push.md) are resolved with the app's identity.
    keyVaultReferenceIdentity: identityId
    // Flex Consumption sends all the app's outbound traffic into the VNet it is integrated with.
    virtualNetworkSubnetId: empty(virtualNetworkSubnetId) ? null : virtualNetworkSubnetId
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource settings 'config' = {
    name: 'appsettings'
    properties: union(appSettings, hostSettings, empty(durableTaskSchedulerEndpoint) ? {} : schedulerSettings)
  }

  // No basic-auth publishing (FTP, SCM): azd deploys with an Entra ID token, and a publishing password would be
  // the one secret left.
  resource ftp 'basicPublishingCredentialsPolicies' = {
    name: 'ftp'
    properties: {
      allow: false
    }
  }

  resource scm 'basicPublishingCredentialsPolicies' = {
    name: 'scm'
    properties: {
      allow: false
    }
  }
}

output name string = api.name
output defaultHostName string = api.properties.defaultHostName
