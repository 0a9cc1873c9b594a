// The app's one identity: the Functions host uses it for storage and Application Insights, the app itself for
// ARM (cluster credentials) and the Kubernetes API. A user-assigned identity exists before the app does, so
// every role can be granted before the first start, and it survives re-creating the app.

param name string
param location string = resourceGroup().location
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

output id string = identity.id
output name string = identity.name
output principalId string = identity.properties.principalId
output clientId string = identity.properties.clientId
