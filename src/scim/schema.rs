//! The attributes Rollcall stores, described once (RFC 7643 §4, §7, §8.7.1).
//!
//! The same tables drive `/Schemas`, input normalisation, PATCH, filters,
//! sorting and `attributes`/`excludedAttributes`.

/// Core User schema URN (RFC 7643 §4.1).
pub const USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// Enterprise User extension URN (RFC 7643 §4.3).
pub const ENTERPRISE_SCHEMA: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
/// Core Group schema URN (RFC 7643 §4.2).
pub const GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

/// RFC 7643 §2.3 data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttrType {
    String,
    Boolean,
    Decimal,
    Integer,
    DateTime,
    Binary,
    Reference,
    Complex,
}

impl AttrType {
    pub fn as_str(self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Boolean => "boolean",
            AttrType::Decimal => "decimal",
            AttrType::Integer => "integer",
            AttrType::DateTime => "dateTime",
            AttrType::Binary => "binary",
            AttrType::Reference => "reference",
            AttrType::Complex => "complex",
        }
    }
}

/// RFC 7643 §7 `mutability`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutability {
    ReadOnly,
    ReadWrite,
    Immutable,
    WriteOnly,
}

/// RFC 7643 §7 `returned`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    Always,
    Never,
    Default,
    Request,
}

/// One attribute definition (RFC 7643 §7).
#[derive(Debug)]
pub struct AttrDef {
    pub name: &'static str,
    pub ty: AttrType,
    pub multi: bool,
    pub required: bool,
    pub case_exact: bool,
    pub mutability: Mutability,
    pub returned: Returned,
    /// `server` uniqueness when true, `none` otherwise.
    pub unique: bool,
    pub canonical: &'static [&'static str],
    pub reference_types: &'static [&'static str],
    pub description: &'static str,
    pub sub: &'static [AttrDef],
}

const fn base(name: &'static str, ty: AttrType, description: &'static str) -> AttrDef {
    AttrDef {
        name,
        ty,
        multi: false,
        required: false,
        case_exact: false,
        mutability: Mutability::ReadWrite,
        returned: Returned::Default,
        unique: false,
        canonical: &[],
        reference_types: &[],
        description,
        sub: &[],
    }
}

const fn string(name: &'static str, description: &'static str) -> AttrDef {
    base(name, AttrType::String, description)
}

const fn boolean(name: &'static str, description: &'static str) -> AttrDef {
    base(name, AttrType::Boolean, description)
}

const fn reference(name: &'static str, types: &'static [&'static str], description: &'static str) -> AttrDef {
    AttrDef { reference_types: types, case_exact: true, ..base(name, AttrType::Reference, description) }
}

const fn complex(name: &'static str, sub: &'static [AttrDef], description: &'static str) -> AttrDef {
    AttrDef { sub, ..base(name, AttrType::Complex, description) }
}

const fn multi(name: &'static str, sub: &'static [AttrDef], description: &'static str) -> AttrDef {
    AttrDef { multi: true, sub, ..base(name, AttrType::Complex, description) }
}

const fn typed(name: &'static str, canonical: &'static [&'static str], description: &'static str) -> AttrDef {
    AttrDef { canonical, ..string(name, description) }
}

const fn readonly(def: AttrDef) -> AttrDef {
    AttrDef { mutability: Mutability::ReadOnly, ..def }
}

const PRIMARY: AttrDef = boolean("primary", "Whether this is the primary value of the attribute.");
const DISPLAY: AttrDef = string("display", "A human-readable name, primarily used for display purposes.");

/// The sub-attributes of the plain multi-valued attributes (emails, roles, …).
macro_rules! multi_value_subs {
    ($value:expr, $types:expr) => {
        &[$value, DISPLAY, typed("type", $types, "A label indicating the attribute's function."), PRIMARY]
    };
}

/// Core User attributes (RFC 7643 §4.1, §8.7.1), without the common `id`, `externalId`, `meta`.
pub static USER_ATTRS: &[AttrDef] = &[
    AttrDef {
        required: true,
        unique: true,
        ..string("userName", "Unique identifier for the User, typically used by the user to directly authenticate to the service provider.")
    },
    complex(
        "name",
        &[
            string("formatted", "The full name, including all middle names, titles, and suffixes as appropriate, formatted for display."),
            string("familyName", "The family name of the User."),
            string("givenName", "The given name of the User."),
            string("middleName", "The middle name(s) of the User."),
            string("honorificPrefix", "The honorific prefix(es) of the User."),
            string("honorificSuffix", "The honorific suffix(es) of the User."),
        ],
        "The components of the user's real name.",
    ),
    string("displayName", "The name of the User, suitable for display to end-users."),
    string("nickName", "The casual way to address the user in real life."),
    reference("profileUrl", &["external"], "A fully qualified URL pointing to a page representing the User's online profile."),
    string("title", "The user's title, such as \"Vice President\"."),
    string("userType", "Used to identify the relationship between the organization and the user."),
    string("preferredLanguage", "Indicates the User's preferred written or spoken language."),
    string("locale", "Used to indicate the User's default location for purposes of localizing items."),
    string("timezone", "The User's time zone in the 'Olson' time zone database format."),
    boolean("active", "A Boolean value indicating the User's administrative status."),
    AttrDef {
        mutability: Mutability::WriteOnly,
        returned: Returned::Never,
        case_exact: true,
        ..string("password", "The User's cleartext password; accepted, never stored or returned.")
    },
    multi("emails", multi_value_subs!(string("value", "Email address for the user."), &["work", "home", "other"]), "Email addresses for the user."),
    multi(
        "phoneNumbers",
        multi_value_subs!(string("value", "Phone number of the User."), &["work", "home", "mobile", "fax", "pager", "other"]),
        "Phone numbers for the User.",
    ),
    multi(
        "ims",
        multi_value_subs!(string("value", "Instant messaging address for the User."), &["aim", "gtalk", "icq", "xmpp", "msn", "skype", "qq", "yahoo"]),
        "Instant messaging addresses for the User.",
    ),
    multi(
        "photos",
        multi_value_subs!(reference("value", &["external"], "URL of a photo of the User."), &["photo", "thumbnail"]),
        "URLs of photos of the User.",
    ),
    multi(
        "addresses",
        &[
            string("formatted", "The full mailing address, formatted for display or use with a mailing label."),
            string("streetAddress", "The full street address component."),
            string("locality", "The city or locality component."),
            string("region", "The state or region component."),
            string("postalCode", "The zip code or postal code component."),
            string("country", "The country name component."),
            typed("type", &["work", "home", "other"], "A label indicating the attribute's function."),
            PRIMARY,
        ],
        "A physical mailing address for this User.",
    ),
    readonly(multi(
        "groups",
        &[
            readonly(string("value", "The identifier of the User's group.")),
            readonly(reference("$ref", &["User", "Group"], "The URI of the corresponding 'Group' resource.")),
            readonly(string("display", "A human-readable name, primarily used for display purposes.")),
            readonly(typed("type", &["direct", "indirect"], "A label indicating the attribute's function.")),
        ],
        "A list of groups to which the user belongs.",
    )),
    multi("entitlements", multi_value_subs!(string("value", "The value of an entitlement."), &[]), "A list of entitlements for the User."),
    multi("roles", multi_value_subs!(string("value", "The value of a role."), &[]), "A list of roles for the User."),
    multi(
        "x509Certificates",
        multi_value_subs!(base("value", AttrType::Binary, "The value of an X.509 certificate."), &[]),
        "A list of certificates issued to the User.",
    ),
];

/// Enterprise User extension attributes (RFC 7643 §4.3).
pub static ENTERPRISE_ATTRS: &[AttrDef] = &[
    string("employeeNumber", "Numeric or alphanumeric identifier assigned to a person."),
    string("costCenter", "Identifies the name of a cost center."),
    string("organization", "Identifies the name of an organization."),
    string("division", "Identifies the name of a division."),
    string("department", "Identifies the name of a department."),
    complex(
        "manager",
        &[
            string("value", "The id of the SCIM resource representing the User's manager."),
            reference("$ref", &["User"], "The URI of the SCIM resource representing the User's manager."),
            readonly(string("displayName", "The displayName of the User's manager.")),
        ],
        "The User's manager.",
    ),
];

/// Core Group attributes (RFC 7643 §4.2).
pub static GROUP_ATTRS: &[AttrDef] = &[
    AttrDef { required: true, unique: true, ..string("displayName", "A human-readable name for the Group.") },
    multi(
        "members",
        &[
            AttrDef { mutability: Mutability::Immutable, case_exact: true, ..string("value", "Identifier of the member of this Group.") },
            AttrDef {
                mutability: Mutability::Immutable,
                ..reference("$ref", &["User", "Group"], "The URI corresponding to a SCIM resource that is a member of this Group.")
            },
            AttrDef { mutability: Mutability::Immutable, ..typed("type", &["User", "Group"], "A label indicating the type of resource.") },
        ],
        "A list of members of the Group.",
    ),
];

/// The common attributes every resource has (RFC 7643 §3.1).
pub static COMMON_ATTRS: &[AttrDef] = &[
    AttrDef {
        case_exact: true,
        mutability: Mutability::ReadOnly,
        returned: Returned::Always,
        unique: true,
        ..string("id", "Unique identifier for the SCIM resource, assigned by the service provider.")
    },
    AttrDef { case_exact: true, ..string("externalId", "An identifier for the resource as defined by the provisioning client.") },
    readonly(complex(
        "meta",
        &[
            AttrDef { case_exact: true, ..readonly(string("resourceType", "The name of the resource type of the resource.")) },
            readonly(base("created", AttrType::DateTime, "The DateTime that the resource was added to the service provider.")),
            readonly(base("lastModified", AttrType::DateTime, "The most recent DateTime that the details of this resource were updated.")),
            AttrDef { case_exact: true, ..readonly(reference("location", &["uri"], "The URI of the resource being returned.")) },
            AttrDef { case_exact: true, ..readonly(string("version", "The version of the resource being returned.")) },
        ],
        "Resource metadata.",
    )),
];

/// One schema document (RFC 7643 §7).
#[derive(Debug)]
pub struct SchemaDef {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub attributes: &'static [AttrDef],
}

pub static SCHEMAS: &[SchemaDef] = &[
    SchemaDef { id: USER_SCHEMA, name: "User", description: "User Account", attributes: USER_ATTRS },
    SchemaDef { id: ENTERPRISE_SCHEMA, name: "EnterpriseUser", description: "Enterprise User", attributes: ENTERPRISE_ATTRS },
    SchemaDef { id: GROUP_SCHEMA, name: "Group", description: "Group", attributes: GROUP_ATTRS },
];

static USER_EXTENSIONS: &[(&str, &[AttrDef])] = &[(ENTERPRISE_SCHEMA, ENTERPRISE_ATTRS)];

/// Which resource a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ResourceKind {
    User,
    Group,
}

impl ResourceKind {
    /// The core schema URN.
    pub fn core_schema(self) -> &'static str {
        match self {
            ResourceKind::User => USER_SCHEMA,
            ResourceKind::Group => GROUP_SCHEMA,
        }
    }
    /// The core attributes (without the common ones).
    pub fn core_attrs(self) -> &'static [AttrDef] {
        match self {
            ResourceKind::User => USER_ATTRS,
            ResourceKind::Group => GROUP_ATTRS,
        }
    }
    /// Extensions Rollcall knows for this resource (RFC 7643 §3.3).
    pub fn extensions(self) -> &'static [(&'static str, &'static [AttrDef])] {
        match self {
            ResourceKind::User => USER_EXTENSIONS,
            ResourceKind::Group => &[],
        }
    }
    /// `User` or `Group` (RFC 7643 §6 resource type name, `meta.resourceType`).
    pub fn name(self) -> &'static str {
        match self {
            ResourceKind::User => "User",
            ResourceKind::Group => "Group",
        }
    }
    /// `Users` or `Groups`, the endpoint segment.
    pub fn endpoint(self) -> &'static str {
        match self {
            ResourceKind::User => "Users",
            ResourceKind::Group => "Groups",
        }
    }
}

/// Finds an attribute by name, case-insensitively (RFC 7643 §2.1).
pub fn find<'a>(attrs: &'a [AttrDef], name: &str) -> Option<&'a AttrDef> {
    attrs.iter().find(|a| a.name.eq_ignore_ascii_case(name))
}

/// Finds a known extension schema of `kind` by URN, case-insensitively.
pub fn find_extension(kind: ResourceKind, urn: &str) -> Option<(&'static str, &'static [AttrDef])> {
    kind.extensions().iter().copied().find(|(id, _)| id.eq_ignore_ascii_case(urn))
}

/// Finds a top-level attribute of `kind`: core, common, or (with `uri`) an extension's.
/// `uri` equal to the core schema URN is the same as no URI.
pub fn find_top(kind: ResourceKind, uri: Option<&str>, name: &str) -> Option<&'static AttrDef> {
    match uri {
        None => find(kind.core_attrs(), name).or_else(|| find(COMMON_ATTRS, name)),
        Some(u) if u.eq_ignore_ascii_case(kind.core_schema()) => find(kind.core_attrs(), name).or_else(|| find(COMMON_ATTRS, name)),
        Some(u) => find_extension(kind, u).and_then(|(_, attrs)| find(attrs, name)),
    }
}

/// Looks up a schema document by id.
pub fn schema_by_id(id: &str) -> Option<&'static SchemaDef> {
    SCHEMAS.iter().find(|s| s.id.eq_ignore_ascii_case(id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_lookup_ignores_case() {
        assert_eq!(find(USER_ATTRS, "USERNAME").map(|a| a.name), Some("userName"));
        assert_eq!(find_top(ResourceKind::User, None, "externalid").map(|a| a.name), Some("externalId"));
    }

    #[test]
    fn enterprise_attributes_are_found_by_urn() {
        let a = find_top(ResourceKind::User, Some(ENTERPRISE_SCHEMA), "employeenumber");
        assert_eq!(a.map(|a| a.name), Some("employeeNumber"));
        assert!(find_top(ResourceKind::Group, Some(ENTERPRISE_SCHEMA), "employeeNumber").is_none());
    }

    #[test]
    fn core_urn_prefix_is_the_same_as_none() {
        let a = find_top(ResourceKind::User, Some(USER_SCHEMA), "userName");
        assert_eq!(a.map(|a| a.name), Some("userName"));
    }

    #[test]
    fn user_name_is_required_unique_and_case_insensitive() {
        let a = find(USER_ATTRS, "userName").unwrap();
        assert!(a.required && a.unique && !a.case_exact);
    }
}
