// App Service Authentication (Easy Auth) in front of the Function App: Microsoft Entra ID tokens of the listed
// client applications identify their callers to the app (X-MS-CLIENT-PRINCIPAL); requests without a token go on to
// the function-key check, so key callers keep working. The app trusts the principal headers only with
// EASY_AUTH_ENABLED=true, which main.bicep sets together with this module.

@description('Name of the Function App to put authentication in front of.')
param functionAppName string

@description('Client id of the app registration that stands for this API: tokens are requested for it (audience api://<id> or the id).')
param clientId string

@description('Client (application) ids allowed to call with a token: a Logic App\'s managed identity, Polysync\'s app registration...')
param allowedClientIds array

@description('Tenant whose tokens are accepted.')
param tenantId string = tenant().tenantId

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: functionAppName
}

resource auth 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
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
}
