// Roles of the app's identity in its own resource group: the data-plane roles the Functions host and Durable's
// Azure Storage provider need on the storage account, and telemetry ingestion on Application Insights. With the
// Durable Task Scheduler (its role is in app/durable-task-scheduler.bicep) the account holds no task hub: the
// queue role goes, since nothing else of the app uses queues. Blob stays for the host (keys, the timer's lock
// and schedule status, which keep one scheduler tick at a time across instances), the package and the logs
// archive; table stays for the host's diagnostic events.
//
// Not granted: Storage Account Contributor. Functions asks for it only when host storage is used by the blob
// trigger with an identity; this app has no blob trigger, and the role is a management role (it could re-enable
// shared keys and list them), the opposite of what the rest of this deployment does.
// Not granted either: any role to the person who deploys. Flex Consumption pulls the package with the app's
// identity, so azd needs no data access to the storage account.

param storageAccountName string
param applicationInsightsName string

@description('Object (principal) id of the app\'s user-assigned identity.')
param principalId string

@description('true: Durable\'s task hub is in this account (the Azure Storage backend), with its queues.')
param taskHubInStorage bool

var storageBlobDataOwner = 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner: host leases, keys and timer state, the deployment package, Durable's large messages and the run-logs archive
var storageQueueDataContributor = '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor: Durable's control and work-item queues (Azure Storage backend)
var storageTableDataContributor = '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor: Durable's instances and history tables (Azure Storage backend), the host's diagnostic events
var monitoringMetricsPublisher = '3913510d-42f4-4e42-8a64-420c390055eb' // Monitoring Metrics Publisher: telemetry ingestion with Entra ID (local auth is off)

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource blobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource queueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (taskHubInStorage) {
  name: guid(storage.id, principalId, storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageQueueDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource tableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, principalId, storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
