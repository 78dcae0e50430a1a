//! Discovery (RFC 7644 §4; RFC 7643 §5, §6, §7): what Rollcall supports,
//! generated from the same schema tables that drive everything else, so the
//! documents cannot drift from the behaviour.

use super::list::LIST_SCHEMA;
use super::Ctx;
use crate::app::HttpResponse;
use crate::scim::schema::{AttrDef, Mutability, ResourceKind, Returned, SchemaDef, SCHEMAS};
use crate::scim::ScimError;
use crate::storage::{Batch, Db};
use serde_json::{json, Map, Value};

const SPC_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig";
const RESOURCE_TYPE_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:ResourceType";
const SCHEMA_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Schema";

pub async fn service_provider_config<D: Db>(ctx: &Ctx<'_, '_, D>) -> Result<HttpResponse, ScimError> {
    ctx.read(Batch::new()).await?;
    let cfg = ctx.svc.cfg;
    Ok(HttpResponse::scim(
        200,
        &json!({
            "schemas": [SPC_SCHEMA],
            "documentationUri": "https://github.com/rollcall-dev/rollcall#scim",
            "patch": { "supported": true },
            "bulk": { "supported": false, "maxOperations": 0, "maxPayloadSize": cfg.max_payload },
            "filter": { "supported": true, "maxResults": cfg.max_results },
            "changePassword": { "supported": false },
            "sort": { "supported": true },
            "etag": { "supported": true },
            "authenticationSchemes": [{
                "type": "oauthbearertoken",
                "name": "OAuth Bearer Token",
                "description": "The directory's bearer token, or an access token from {base_url}/oauth/token (client credentials), sent as Authorization: Bearer <token>",
                "specUri": "https://www.rfc-editor.org/info/rfc6750",
                "primary": true
            }],
            "meta": { "resourceType": "ServiceProviderConfig", "location": format!("{}/ServiceProviderConfig", ctx.base) }
        }),
    ))
}

fn resource_type(kind: ResourceKind, base: &str) -> Value {
    let extensions: Vec<Value> = kind.extensions().iter().map(|(urn, _)| json!({ "schema": urn, "required": false })).collect();
    json!({
        "schemas": [RESOURCE_TYPE_SCHEMA],
        "id": kind.name(),
        "name": kind.name(),
        "endpoint": format!("/{}", kind.endpoint()),
        "description": if kind == ResourceKind::User { "User Account" } else { "Group" },
        "schema": kind.core_schema(),
        "schemaExtensions": extensions,
        "meta": { "resourceType": "ResourceType", "location": format!("{base}/ResourceTypes/{}", kind.name()) }
    })
}

fn list_response(resources: Vec<Value>) -> Value {
    json!({ "schemas": [LIST_SCHEMA], "totalResults": resources.len(), "startIndex": 1, "itemsPerPage": resources.len(), "Resources": resources })
}

pub async fn resource_types<D: Db>(ctx: &Ctx<'_, '_, D>, id: Option<&str>) -> Result<HttpResponse, ScimError> {
    ctx.read(Batch::new()).await?;
    let all = [ResourceKind::User, ResourceKind::Group];
    match id {
        None => Ok(HttpResponse::scim(200, &list_response(all.iter().map(|k| resource_type(*k, &ctx.base)).collect()))),
        Some(id) => all
            .iter()
            .find(|k| k.name().eq_ignore_ascii_case(id))
            .map(|k| HttpResponse::scim(200, &resource_type(*k, &ctx.base)))
            .ok_or_else(|| ScimError::not_found(format!("No resource type {id}"))),
    }
}

fn attribute(a: &AttrDef) -> Value {
    let mut m = Map::new();
    m.insert("name".into(), json!(a.name));
    m.insert("type".into(), json!(a.ty.as_str()));
    m.insert("multiValued".into(), json!(a.multi));
    m.insert("description".into(), json!(a.description));
    m.insert("required".into(), json!(a.required));
    m.insert("caseExact".into(), json!(a.case_exact));
    let mutability = match a.mutability {
        Mutability::ReadOnly => "readOnly",
        Mutability::ReadWrite => "readWrite",
        Mutability::Immutable => "immutable",
        Mutability::WriteOnly => "writeOnly",
    };
    m.insert("mutability".into(), json!(mutability));
    let returned = match a.returned {
        Returned::Always => "always",
        Returned::Never => "never",
        Returned::Default => "default",
        Returned::Request => "request",
    };
    m.insert("returned".into(), json!(returned));
    m.insert("uniqueness".into(), json!(if a.unique { "server" } else { "none" }));
    if !a.canonical.is_empty() {
        m.insert("canonicalValues".into(), json!(a.canonical));
    }
    if !a.reference_types.is_empty() {
        m.insert("referenceTypes".into(), json!(a.reference_types));
    }
    if !a.sub.is_empty() {
        m.insert("subAttributes".into(), Value::Array(a.sub.iter().map(attribute).collect()));
    }
    Value::Object(m)
}

fn schema_doc(s: &SchemaDef, base: &str) -> Value {
    json!({
        "schemas": [SCHEMA_SCHEMA],
        "id": s.id,
        "name": s.name,
        "description": s.description,
        "attributes": s.attributes.iter().map(attribute).collect::<Vec<_>>(),
        "meta": { "resourceType": "Schema", "location": format!("{base}/Schemas/{}", s.id) }
    })
}

pub async fn schemas<D: Db>(ctx: &Ctx<'_, '_, D>, id: Option<&str>) -> Result<HttpResponse, ScimError> {
    ctx.read(Batch::new()).await?;
    match id {
        None => Ok(HttpResponse::scim(200, &list_response(SCHEMAS.iter().map(|s| schema_doc(s, &ctx.base)).collect()))),
        Some(id) => crate::scim::schema::schema_by_id(id)
            .map(|s| HttpResponse::scim(200, &schema_doc(s, &ctx.base)))
            .ok_or_else(|| ScimError::not_found(format!("No schema {id}"))),
    }
}
