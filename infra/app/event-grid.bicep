// An Event Grid topic for the app's run events (docs/push.md, "Event Grid"), made only when the azd parameter
// eventGridTopic is true: CloudEvents 1.0 in, Entra ID only (no access keys), and the app's identity allowed to
// publish to it and to nothing else.

param name string
param location string
param tags object = {}

@description('Object (principal) id of the app\'s user-assigned identity.')
param principalId string

var eventGridDataSender = 'd5a91429-5739-47e2-a06b-3470a27159e7' // EventGrid Data Sender: publish events to this topic, nothing more

resource topic 'Microsoft.EventGrid/topics@2022-06-15' = {
  name: name
  location: location
  tags: tags
  properties: {
    inputSchema: 'CloudEventSchemaV1_0'
    // Keys off: only Entra ID tokens (the app's identity) publish.
    disableLocalAuth: true
    publicNetworkAccess: 'Enabled'
  }
}

resource dataSender 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(topic.id, principalId, eventGridDataSender)
  scope: topic
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', eventGridDataSender)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = topic.name
@description('Where events are published: EVENT_GRID_TOPIC_ENDPOINT.')
output endpoint string = topic.properties.endpoint
