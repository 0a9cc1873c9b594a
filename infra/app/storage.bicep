// The app's own storage account: Functions host state, the Durable task hub (Azure Storage provider), the
// deployment package and the run-logs archive. Reached only with Microsoft Entra ID: shared keys are off, so no
// connection string or SAS for it can exist.

param name string
param location string = resourceGroup().location
param tags object = {}

@description('Blob container Flex Consumption deploys the app package from.')
param deploymentContainerName string

@description('Blob container of the logs archive: every finished run\'s container logs and events, under its run id.')
param logsContainerName string

@description('Days a run\'s archived logs are kept; 0 keeps them for ever.')
@minValue(0)
param logsRetentionDays int

@description('Blob container of the audit trail: one append blob of JSON lines per UTC day.')
param auditContainerName string

@description('Days each audit blob stays immutable (no delete or overwrite, appends allowed); 0: no policy.')
@minValue(0)
param auditRetentionDays int

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    accessTier: 'Hot'
    allowBlobPublicAccess: false
    allowSharedKeyAccess: false
    allowCrossTenantReplication: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }

  resource blobServices 'blobServices' = {
    name: 'default'

    resource deploymentContainer 'containers' = {
      name: deploymentContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    resource logsContainer 'containers' = {
      name: logsContainerName
      properties: {
        publicAccess: 'None'
      }
    }

    // The app only appends to the day's append blob. With auditRetentionDays, a time-based retention policy with
    // protected append writes makes that binding: blocks can be appended, no blob deleted or overwritten while it
    // holds, by the app or anyone (docs/operations.md, "Audit trail").
    resource auditContainer 'containers' = {
      name: auditContainerName
      properties: {
        publicAccess: 'None'
      }

      resource auditImmutability 'immutabilityPolicies' = if (auditRetentionDays > 0) {
        name: 'default'
        properties: {
          immutabilityPeriodSinceCreationInDays: auditRetentionDays
          allowProtectedAppendWrites: true
        }
      }
    }
  }
}

// Archived logs are evidence for a while, not for ever; the lifecycle policy ages them out without app code.
resource logsLifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (logsRetentionDays > 0) {
  parent: storage
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-run-logs'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: ['blockBlob', 'appendBlob']
              prefixMatch: ['${logsContainerName}/']
            }
            actions: {
              baseBlob: {
                delete: {
                  daysAfterModificationGreaterThan: logsRetentionDays
                }
              }
            }
          }
        }
      ]
    }
  }
}

output name string = storage.name
output blobEndpoint string = storage.properties.primaryEndpoints.blob
output logsContainerName string = storage::blobServices::logsContainer.name
output auditContainerName string = storage::blobServices::auditContainer.name
