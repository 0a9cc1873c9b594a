// App Service Authentication (Easy Auth) in front of the Function App: Microsoft Entra ID tokens of the listed
// client applications identify their callers to the app (X-MS-CLIENT-PRINCIPAL); requests without a token go on to
// the function-key check, so key callers keep working. The app trusts the principal headers only with
// EASY_AUTH_ENABLED=true, which main.bicep sets from the same parameter.
//
// Deployed whether on or off: the site keeps its authsettingsV2 when a deployment leaves the resource out, so
// turning Easy Auth off must write it with the platform disabled (else Entra callers get 400s from an app that
// no longer reads their principal).

@description('true: Easy Auth validates Entra ID tokens in front of the app. false: it is turned off.')
param enabled bool

@description('Name of the Function App to put authentication in front of.')
param functionAppName string

@description('Client id of the app registration that stands for this API: tokens are requested for it (audience api://<id> or the id). Unused when off.')
param clientId string = ''

@description('Client (application) ids allowed to call with a token: a Logic App\'s managed identity, Polysync\'s app registration... Unused when off.')
param allowedClientIds array = []

@description('Tenant whose tokens are accepted.')
param tenantId string = tenant().tenantId

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

// The whole settings document is replaced on every deployment; off needs nothing but the platform switch.
var authOff = {
  platform: {
    enabled: false
  }
}

var authOn = {
  platform: {
    enabled: true
  }
  globalValidation: {
    // Anonymous here means "no token": the Functions host still requires the function key of every route.
    requireAuthentication: false
    unauthenticatedClientAction: 'AllowAnonymous'
  }
  identityProviders: {
    azureActiveDirectory: {
      enabled: true
      registration: {
        clientId: clientId
        openIdIssuer: '${environment().authentication.loginEndpoint}${tenantId}/v2.0'
      }
      validation: {
        allowedAudiences: [
          'api://${clientId}'
          clientId
        ]
        // A token of any other application is refused by the platform before the app sees it.
        defaultAuthorizationPolicy: {
          allowedApplications: allowedClientIds
        }
      }
    }
  }
  login: {
    tokenStore: {
      enabled: false
    }
  }
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: enabled ? authOn : authOff
}
