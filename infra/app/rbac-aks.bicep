// The app's roles on one AKS cluster, deployed into the cluster's own resource group (and subscription).
//
// - Azure Kubernetes Service Cluster User Role on the cluster: read the cluster (its Entra ID and local-account
//   settings, FQDN) and list user credentials, from which the app takes only the server and CA.
// - Clusters with Azure RBAC for Kubernetes authorization: Azure Kubernetes Service RBAC Writer on each allowed
//   namespace, never on the cluster, unless the allow-list is "*". Writer is the narrowest built-in role that can
//   create and delete Jobs; it also reaches other namespaced objects (Secrets included), so keep the namespace
//   list short. Clusters with Kubernetes RBAC get their rights from infra/kubernetes/rbac.yaml instead, which
//   grants exactly the verbs the app uses.
//
// Plain parameter types on purpose: this module's template then keeps the classic language version, in which
// the namespace pseudo-resources below are used only to build a scope and are never read by ARM.

@description('Name of the AKS cluster, in this module\'s resource group.')
param clusterName string

@description('Namespaces the app may use on this cluster; "*" means all of them.')
param namespaces array

@description('true when the cluster uses Azure RBAC for Kubernetes authorization.')
param azureRbac bool

@description('Object (principal) id of the app\'s user-assigned identity.')
param principalId string

var clusterUserRole = '4abbcc35-e782-43d8-92c5-2d3f1bd2253f' // Azure Kubernetes Service Cluster User Role
var rbacWriterRole = 'a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb' // Azure Kubernetes Service RBAC Writer

var allNamespaces = contains(namespaces, '*')

resource cluster 'Microsoft.ContainerService/managedClusters@2024-09-01' existing = {
  name: clusterName
}

// `<clusterId>/namespaces/<ns>` is the scope Azure RBAC for Kubernetes authorization uses for one namespace. It is
// not a resource ARM serves, so Bicep has no type for it; it only ever appears as a role-assignment scope.
#disable-next-line BCP081
resource allowedNamespace 'Microsoft.ContainerService/managedClusters/namespaces@2022-01-02-preview' existing = [for ns in namespaces: {
  parent: cluster
  name: ns
}]

resource clusterUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(cluster.id, principalId, clusterUserRole)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', clusterUserRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

resource namespaceWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (ns, i) in namespaces: if (azureRbac && !allNamespaces) {
  name: guid(allowedNamespace[i].id, principalId, rbacWriterRole)
  scope: allowedNamespace[i]
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacWriterRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}]

// "*" allows every namespace, so the role has to cover every namespace: the cluster scope. Meant for development
// clusters only.
resource clusterWriter 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (azureRbac && allNamespaces) {
  name: guid(cluster.id, principalId, rbacWriterRole)
  scope: cluster
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', rbacWriterRole)
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
