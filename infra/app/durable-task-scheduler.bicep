// The Durable Task Scheduler backend (main.bicep durableBackend = 'DurableTaskScheduler'): a scheduler with the
// app's one task hub, and the app identity's data role on that task hub alone. The scheduler takes only
// Microsoft Entra ID tokens (there is no key to leak), so the app's connection string names the identity, not a
// secret (app/api.bicep).

param name string
param location string = resourceGroup().location
param tags object = {}

@description('The task hub: the same name as host.json\'s hubName (%TASK_HUB_NAME%), so the app finds it.')
@minLength(3)
@maxLength(45)
param taskHubName string

@description('Consumption: billed per action dispatched. Dedicated: capacity units at a fixed monthly price.')
@allowed([
  'Consumption'
  'Dedicated'
])
param skuName string

@description('Capacity units of a Dedicated scheduler (1 to 3; 3 make it zone redundant). Consumption takes none.')
@minValue(1)
@maxValue(3)
param capacity int

@description('Addresses that may reach the scheduler at all; an empty list refuses every call.')
@minLength(1)
param ipAllowlist array

@description('Object (principal) id of the app\'s user-assigned identity.')
param principalId string

var durableTaskDataContributor = '0ad04412-c4d5-4796-b79c-f76d14c8d402' // Durable Task Data Contributor: the app's host both runs the orchestrations (worker) and starts, reads, signals and terminates them (client)

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: skuName == 'Dedicated' ? { name: skuName, capacity: capacity } : { name: skuName }
    ipAllowlist: ipAllowlist
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-11-01' = {
  parent: scheduler
  name: taskHubName
  properties: {}
}

// On the task hub, not the scheduler: the identity can reach no other task hub someone adds to it later.
resource taskHubDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(taskHub.id, principalId, durableTaskDataContributor)
  scope: taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', durableTaskDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
output taskHubId string = taskHub.id
output dashboardUrl string = taskHub.properties.dashboardUrl
