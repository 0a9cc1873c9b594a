// aks-job-runner next to your AKS clusters: a Flex Consumption function app with one user-assigned identity,
// its own storage account and Application Insights (and a Durable Task Scheduler when durableBackend says so),
// all reached without keys, and the identity's roles on each cluster it may use. `azd up` deploys it; see
// "Deploy to Azure" in the README.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; with the subscription and the location it seeds every resource name.')
param environmentName string

@minLength(1)
@description('Region of the app and its resources. It must offer Flex Consumption (az functionapp list-flexconsumption-locations).')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('An AKS cluster the app may run Jobs in. The same shape as an "aks" entry of the CLUSTERS setting, plus azureRbac.')
type aksCluster = {
  @description('Name callers use for the cluster (?cluster=): letters, digits, - _ . (at most 63).')
  alias: string
  subscriptionId: string
  resourceGroup: string
  clusterName: string
  @description('Namespaces the app may run Jobs in. "*" allows every namespace (development clusters only).')
  @minLength(1)
  namespaces: string[]
  @description('true: the cluster uses Azure RBAC for Kubernetes authorization and gets the custom role of app/rbac-aks.bicep per namespace. false: apply infra/kubernetes/rbac.yaml in each namespace.')
  azureRbac: bool
  @description('Private clusters: the name the app connects to, the cluster\'s private FQDN (the default) or its public FQDN (az aks show --query privateFqdn / fqdn). Any other name is refused.')
  serverFqdn: string?
}

@minLength(1)
@description('The clusters the app may use (azd env set AKS_CLUSTERS \'[...]\').')
param clusters aksCluster[]

@description('Alias of the cluster used when a request names none. Empty: the first cluster.')
param defaultCluster string = ''

@description('Durable task hub name: letters and digits only, 3 to 45 characters, starting with a letter.')
@minLength(3)
@maxLength(45)
param taskHubName string = 'aksjobrunner'

@description('Where Durable keeps the orchestration state: AzureStorage, the task hub in the app\'s own storage account (the default), or DurableTaskScheduler, a Durable Task Scheduler with the task hub (README, "Durable backend"). The package follows the same azd variable, DURABLE_BACKEND.')
@allowed([
  'AzureStorage'
  'DurableTaskScheduler'
])
param durableBackend string = 'AzureStorage'

@description('SKU of the Durable Task Scheduler: Consumption (per action dispatched, up to 500 actions/s, orchestration data kept up to 30 days) or Dedicated (capacity units at a fixed monthly price, 2,000 actions/s each, data kept up to 90 days).')
@allowed([
  'Consumption'
  'Dedicated'
])
param durableTaskSchedulerSku string = 'Consumption'

@description('Capacity units of a Dedicated scheduler, 1 to 3 (3 make it zone redundant).')
@minValue(1)
@maxValue(3)
param durableTaskSchedulerCapacity int = 1

@description('Addresses that may reach the scheduler (IPv4, IPv6 or CIDR); every call also needs an Entra ID token with a Durable Task role. A narrower list must admit the app\'s outbound addresses (fixed only with staticOutboundIp) and the dashboard\'s users.')
@minLength(1)
param durableTaskSchedulerIpAllowlist array = ['0.0.0.0/0']

@description('Days archived run logs are kept in the run-logs container; 0 keeps them for ever.')
@minValue(0)
param logsRetentionDays int = 90

@description('Resource id of a subnet for the app\'s VNet integration, to reach private clusters: delegated to Microsoft.App/environments, in a VNet that reaches the API server and is linked to the cluster\'s private DNS zone (README, "Private clusters"). Empty: no VNet integration, unless staticOutboundIp makes one.')
param virtualNetworkSubnetId string = ''

@description('true: the app gets a VNet of its own whose NAT gateway sends every outbound call from one static public IP (output OUTBOUND_IP), for clusters with authorized IP ranges. Not with virtualNetworkSubnetId: give that subnet a NAT gateway of your own.')
param staticOutboundIp bool = false

@description('Address space of the VNet staticOutboundIp makes (one subnet of it all).')
param outboundVnetAddressPrefix string = '10.240.0.0/26'

// Overrides of generated names, for those who name resources by their own convention.
param resourceGroupName string = ''
param apiServiceName string = ''
param apiUserAssignedIdentityName string = ''
param appServicePlanName string = ''
param storageAccountName string = ''
param applicationInsightsName string = ''
param logAnalyticsName string = ''
param durableTaskSchedulerName string = ''
param eventGridTopicName string = ''

// Tunables of src/config.ts, with its defaults. An app setting beats a default there, so these stay in step.
@description('Base of the run\'s monitor links: the cloud\'s own portal.')
param portalUrl string = environment().portal
@minValue(1)
param pollInitialSeconds int = 5
@minValue(1)
param pollMaxSeconds int = 60
@description('Growth factor of the poll interval, 1 to 10 (a string: Bicep has no decimal type).')
param pollBackoffFactor string = '1.5'
@minValue(1)
param continueAsNewAfterPolls int = 50
@description('Polls in a row that cannot read a run (its Job refused or unreachable) before the run ends as Failed.')
@minValue(1)
param maxObserveFailures int = 10
@description('timeoutSeconds of runs that give none: 25 h, the default Job deadline (24 h) and an hour to spare.')
@minValue(1)
param defaultRunTimeoutSeconds int = 90000
@minValue(0)
param graceImagePullSeconds int = 120
@minValue(0)
param graceContainerConfigSeconds int = 60
@minValue(0)
param graceUnschedulableSeconds int = 600
@minValue(0)
param graceQuotaSeconds int = 300
@minValue(1)
param kubeRequestTimeoutSeconds int = 30
@minValue(1)
param activityRetryFirstSeconds int = 5
@minValue(1)
param activityRetryMaxAttempts int = 5
@minValue(1)
param statusRetryAfterSeconds int = 10

// The other settings of src/config.ts, as they are written there (docs/settings.md says what each means). Empty, the
// default: the app setting is written empty, which config.ts reads as unset, so its own default applies and is
// stated once. Each is the azd variable of the setting's own name (main.parameters.json): azd env set NAME value.
param logsMaxBytesPerContainer string = ''
param publicBaseUrl string = ''
param trustForwardedHeaders string = ''
param allowLocalAccountClusters string = ''
param discoveryShowEnvValues string = ''
param httpCallImage string = ''
param httpCallAllowedUrls string = ''
param schedulerEnabled string = ''
param fallbackImages string = ''
param fallbackCpuRequest string = ''
param fallbackCpuLimit string = ''
param fallbackMemoryRequest string = ''
param fallbackMemoryLimit string = ''
param fallbackRunAsUser string = ''
param jobActiveDeadlineSeconds string = ''
param maxRunTimeoutSeconds string = ''
param maxActiveRunsPerCluster string = ''
param sourcesOptIn string = ''
param callerPolicies string = ''
param observeBatching string = ''
@description('URL prefixes run callbacks may go to (docs/push.md). Empty: the Logic Apps and Power Automate callback hosts.')
param callbackAllowedUrls string = ''
@description('A Key Vault reference to the callbacks\' Standard Webhooks secret, @Microsoft.KeyVault(SecretUri=...), never the secret itself: a parameter is kept in the deployment\'s history (docs/push.md). Empty: callbacks are not signed.')
param webhookSigningSecret string = ''

@description('true: create an Event Grid topic (CloudEvents 1.0, Entra ID only) that every run\'s events are published to, with the role EventGrid Data Sender for the app\'s identity (docs/push.md). Off by default.')
param eventGridTopic bool = false
@description('Or a topic of your own: its endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events); give the app\'s identity EventGrid Data Sender on it. Empty: none, unless eventGridTopic.')
param eventGridTopicEndpoint string = ''

@description('Identify callers with Microsoft Entra ID (App Service Authentication) besides the function key.')
param easyAuthEnabled bool = false
@description('Client id of the app registration that stands for this API (the audience callers request tokens for).')
param easyAuthClientId string = ''
@description('Client (application) ids allowed to call with a token: a Logic App\'s managed identity, Polysync\'s app registration.')
param easyAuthAllowedClientIds array = []

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = !empty(apiServiceName) ? apiServiceName : '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentContainerName = 'app-package'
var logsContainerName = 'run-logs'

// CLUSTERS as src/config.ts parses it: the "aks" entries, without azureRbac, which only infra needs.
var clustersSetting = string(map(clusters, c => union({
  alias: c.alias
  type: 'aks'
  subscriptionId: c.subscriptionId
  resourceGroup: c.resourceGroup
  clusterName: c.clusterName
  namespaces: c.namespaces
}, empty(c.?serverFqdn) ? {} : { serverFqdn: c.?serverFqdn })))

// The app's own settings: every name src/config.ts reads but LOGS_CONNECTION_STRING (a key; Azure reaches the
// archive with the identity), so that nothing set by hand is needed, since each provision replaces the whole set
// (test/infra checks both ways).
var appSettings = {
  CLUSTERS: clustersSetting
  DEFAULT_CLUSTER: !empty(defaultCluster) ? defaultCluster : clusters[0].alias
  AZURE_CLIENT_ID: identity.outputs.clientId
  AZURE_PORTAL_URL: portalUrl
  POLL_INITIAL_SECONDS: string(pollInitialSeconds)
  POLL_MAX_SECONDS: string(pollMaxSeconds)
  POLL_BACKOFF_FACTOR: pollBackoffFactor
  CONTINUE_AS_NEW_AFTER_POLLS: string(continueAsNewAfterPolls)
  MAX_OBSERVE_FAILURES: string(maxObserveFailures)
  DEFAULT_RUN_TIMEOUT_SECONDS: string(defaultRunTimeoutSeconds)
  GRACE_IMAGE_PULL_SECONDS: string(graceImagePullSeconds)
  GRACE_CONTAINER_CONFIG_SECONDS: string(graceContainerConfigSeconds)
  GRACE_UNSCHEDULABLE_SECONDS: string(graceUnschedulableSeconds)
  GRACE_QUOTA_SECONDS: string(graceQuotaSeconds)
  KUBE_REQUEST_TIMEOUT_SECONDS: string(kubeRequestTimeoutSeconds)
  ACTIVITY_RETRY_FIRST_SECONDS: string(activityRetryFirstSeconds)
  ACTIVITY_RETRY_MAX_ATTEMPTS: string(activityRetryMaxAttempts)
  STATUS_RETRY_AFTER_SECONDS: string(statusRetryAfterSeconds)
  LOGS_ACCOUNT_URL: storage.outputs.blobEndpoint
  LOGS_CONTAINER: logsContainerName
  EASY_AUTH_ENABLED: string(easyAuthEnabled)
  LOGS_MAX_BYTES_PER_CONTAINER: logsMaxBytesPerContainer
  PUBLIC_BASE_URL: publicBaseUrl
  TRUST_FORWARDED_HEADERS: trustForwardedHeaders
  ALLOW_LOCAL_ACCOUNT_CLUSTERS: allowLocalAccountClusters
  DISCOVERY_SHOW_ENV_VALUES: discoveryShowEnvValues
  HTTP_CALL_IMAGE: httpCallImage
  HTTP_CALL_ALLOWED_URLS: httpCallAllowedUrls
  SCHEDULER_ENABLED: schedulerEnabled
  FALLBACK_IMAGES: fallbackImages
  FALLBACK_CPU_REQUEST: fallbackCpuRequest
  FALLBACK_CPU_LIMIT: fallbackCpuLimit
  FALLBACK_MEMORY_REQUEST: fallbackMemoryRequest
  FALLBACK_MEMORY_LIMIT: fallbackMemoryLimit
  FALLBACK_RUN_AS_USER: fallbackRunAsUser
  JOB_ACTIVE_DEADLINE_SECONDS: jobActiveDeadlineSeconds
  MAX_RUN_TIMEOUT_SECONDS: maxRunTimeoutSeconds
  MAX_ACTIVE_RUNS_PER_CLUSTER: maxActiveRunsPerCluster
  SOURCES_OPT_IN: sourcesOptIn
  CALLER_POLICIES: callerPolicies
  OBSERVE_BATCHING: observeBatching
  CALLBACK_ALLOWED_URLS: callbackAllowedUrls
  WEBHOOK_SIGNING_SECRET: webhookSigningSecret
  EVENT_GRID_TOPIC_ENDPOINT: eventGridTopic ? eventGrid.outputs.endpoint : eventGridTopicEndpoint
}

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: !empty(apiUserAssignedIdentityName) ? apiUserAssignedIdentityName : '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: !empty(storageAccountName) ? storageAccountName : '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    deploymentContainerName: deploymentContainerName
    logsContainerName: logsContainerName
    logsRetentionDays: logsRetentionDays
  }
}

module monitoring 'app/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: !empty(logAnalyticsName) ? logAnalyticsName : '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: !empty(applicationInsightsName) ? applicationInsightsName : '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

var useScheduler = durableBackend == 'DurableTaskScheduler'

module rbac 'app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    principalId: identity.outputs.principalId
    taskHubInStorage: !useScheduler
  }
}

module durableTaskScheduler 'app/durable-task-scheduler.bicep' = if (useScheduler) {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: !empty(durableTaskSchedulerName) ? durableTaskSchedulerName : '${abbrs.durableTaskSchedulers}${resourceToken}'
    location: location
    tags: tags
    taskHubName: taskHubName
    skuName: durableTaskSchedulerSku
    capacity: durableTaskSchedulerCapacity
    ipAllowlist: durableTaskSchedulerIpAllowlist
    principalId: identity.outputs.principalId
  }
}

module eventGrid 'app/event-grid.bicep' = if (eventGridTopic) {
  name: 'event-grid'
  scope: rg
  params: {
    name: !empty(eventGridTopicName) ? eventGridTopicName : '${abbrs.eventGridTopics}${resourceToken}'
    location: location
    tags: tags
    principalId: identity.outputs.principalId
  }
}

// One deployment per cluster, in the cluster's own resource group and subscription.
module aksAccess 'app/rbac-aks.bicep' = [for c in clusters: {
  name: 'aks-access-${uniqueString(environmentName, c.alias)}'
  scope: resourceGroup(c.subscriptionId, c.resourceGroup)
  params: {
    clusterName: c.clusterName
    namespaces: c.namespaces
    azureRbac: c.azureRbac
    principalId: identity.outputs.principalId
  }
}]

// Only for a static outbound IP without a subnet of the deployer's: a subnet given is the deployer's network.
var createNetwork = staticOutboundIp && empty(virtualNetworkSubnetId)

module network 'app/network.bicep' = if (createNetwork) {
  name: 'network'
  scope: rg
  params: {
    vnetName: '${abbrs.networkVirtualNetworks}${resourceToken}'
    natGatewayName: '${abbrs.networkNatGateways}${resourceToken}'
    publicIpName: '${abbrs.networkPublicIPAddresses}${resourceToken}'
    location: location
    tags: tags
    addressPrefix: outboundVnetAddressPrefix
  }
}

module api 'app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: !empty(appServicePlanName) ? appServicePlanName : '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentContainerName: deploymentContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    taskHubName: taskHubName
    appSettings: appSettings
    virtualNetworkSubnetId: !empty(virtualNetworkSubnetId) ? virtualNetworkSubnetId : (createNetwork ? network.outputs.subnetId : '')
    durableTaskSchedulerEndpoint: useScheduler ? durableTaskScheduler.outputs.endpoint : ''
  }
  // The host starts as soon as the app exists; without its storage roles (and its task hub role, with the
  // scheduler) it would fail its first starts.
  dependsOn: [
    rbac
    durableTaskScheduler
  ]
}

// Deployed on and off alike: an incremental deployment leaves a resource it does not name as it is, so only a
// deployment that writes authsettingsV2 with the platform off turns Easy Auth off again.
module auth 'app/auth.bicep' = {
  name: 'auth'
  scope: rg
  params: {
    functionAppName: api.outputs.name
    enabled: easyAuthEnabled
    clientId: easyAuthClientId
    allowedClientIds: easyAuthAllowedClientIds
  }
}

output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
@description('ARM of the cloud deployed to, for the predeploy hook (scripts/wait-for-storage-role.ts).')
output AZURE_RESOURCE_MANAGER_ENDPOINT string = environment().resourceManager
output AZURE_RESOURCE_GROUP string = rg.name
output SERVICE_API_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output AZURE_FUNCTION_URL string = 'https://${api.outputs.defaultHostName}'
@description('Object id of the app\'s identity: the subject of infra/kubernetes/rbac.yaml on Kubernetes-RBAC clusters.')
output API_IDENTITY_PRINCIPAL_ID string = identity.outputs.principalId
output API_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
output RUN_LOGS_CONTAINER string = storage.outputs.logsContainerName
@description('The static public IP every outbound call of the app leaves from (staticOutboundIp); empty without it. Allow it in each cluster\'s apiServerAccessProfile.authorizedIPRanges.')
output OUTBOUND_IP string = createNetwork ? network.outputs.outboundIp : ''
@description('The Durable backend provisioned (AzureStorage or DurableTaskScheduler): the package is built for the same azd variable.')
output DURABLE_BACKEND string = durableBackend
@description('Endpoint of the Durable Task Scheduler; empty with Azure Storage. The predeploy hook holds the package against it.')
output DURABLE_TASK_SCHEDULER_ENDPOINT string = useScheduler ? durableTaskScheduler.outputs.endpoint : ''
@description('The task hub in the Durable Task Scheduler dashboard; empty with Azure Storage. Opening it takes a Durable Task role of your own on the task hub (README, "Durable backend").')
output DURABLE_TASK_SCHEDULER_DASHBOARD_URL string = useScheduler ? durableTaskScheduler.outputs.dashboardUrl : ''
@description('Resource id of the task hub, the scope of the dashboard users\' roles; empty with Azure Storage.')
output DURABLE_TASK_HUB_ID string = useScheduler ? durableTaskScheduler.outputs.taskHubId : ''
@description('The Event Grid topic run events are published to (eventGridTopic); empty without it. Subscribe handlers to it (docs/push.md).')
output EVENT_GRID_TOPIC_NAME string = eventGridTopic ? eventGrid.outputs.name : ''
