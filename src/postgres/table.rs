//! [`Table`]: which table holds the resellers and which of its columns hold what, and
//! the load query the follower derives from it.

use crate::Capability;

/// Where a table keeps capabilities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CapabilityColumns {
    /// No capabilities.
    None,
    /// One `text[]` column of capability names (`{iptv,sip}`), as the JSON records.
    Array(String),
    /// One `boolean` column per capability (`NULL` is false).
    Flags(Vec<(Capability, String)>),
}

/// How the follower reads a reseller table: its name and the columns that hold each
/// field. [`Table::new`] expects this layout, and every column name can be changed to
/// map an existing table:
///
/// ```sql
/// CREATE TABLE resellers (
///     id               bigint PRIMARY KEY,          -- any type; integer types sort as numbers
///     parent_id        bigint REFERENCES resellers, -- NULL (or the row's own id): a root
///     name             text NOT NULL DEFAULT '',
///     capabilities     text[] NOT NULL DEFAULT '{}',
///     economic_enabled boolean NOT NULL DEFAULT false,
///     attributes       jsonb                        -- NULL: none
/// );
/// ```
///
/// - The id column must identify rows for logical replication: the primary key (the
///   default replica identity), or `REPLICA IDENTITY FULL`. An ordinary table:
///   partitioned tables and views are refused, and rows of inheriting tables are not
///   the table's (`ONLY`).
/// - Siblings are listed in the order of their ids: by value for `smallint`, `integer`
///   and `bigint` ids, by the bytes of their text form for every other type (`text`
///   compared as with `COLLATE "C"`, `uuid` in its usual order).
///
/// # Examples
///
/// ```
/// use reseller_hierarchy::postgres::Table;
/// use reseller_hierarchy::Capability;
///
/// // An existing table: text ids, the parent in `upline`, one boolean per capability,
/// // no economic flag and no attributes.
/// let table = Table::new("crm.partners")
///     .parent_column("upline")
///     .name_column(Some("display_name"))
///     .capability_flag(Capability::Iptv, "has_iptv")
///     .capability_flag(Capability::Sip, "has_voip")
///     .economic_enabled_column(None)
///     .attributes_column(None);
/// assert!(table.load_query(false).contains(r#"FROM ONLY "crm"."partners""#));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Table {
    pub(crate) schema: String,
    pub(crate) name: String,
    pub(crate) id: String,
    pub(crate) parent: String,
    pub(crate) display_name: Option<String>,
    pub(crate) capabilities: CapabilityColumns,
    pub(crate) economic_enabled: Option<String>,
    pub(crate) attributes: Option<String>,
}

/// `"name"`, with inner quotes doubled.
pub(crate) fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `'text'`, with inner quotes doubled.
pub(crate) fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

impl Table {
    /// The table `name` (`schema.table`, or a table in `public`), with the columns of
    /// the layout above.
    pub fn new(name: &str) -> Table {
        let (schema, name) = name.split_once('.').unwrap_or(("public", name));
        Table {
            schema: schema.to_string(),
            name: name.to_string(),
            id: "id".into(),
            parent: "parent_id".into(),
            display_name: Some("name".into()),
            capabilities: CapabilityColumns::Array("capabilities".into()),
            economic_enabled: Some("economic_enabled".into()),
            attributes: Some("attributes".into()),
        }
    }

    /// The id column.
    pub fn id_column(mut self, column: &str) -> Table {
        self.id = column.to_string();
        self
    }

    /// The parent's id column.
    pub fn parent_column(mut self, column: &str) -> Table {
        self.parent = column.to_string();
        self
    }

    /// The name column (`None`: every name is empty).
    pub fn name_column(mut self, column: Option<&str>) -> Table {
        self.display_name = column.map(str::to_string);
        self
    }

    /// Capabilities as one `text[]` column of names.
    pub fn capability_array(mut self, column: &str) -> Table {
        self.capabilities = CapabilityColumns::Array(column.to_string());
        self
    }

    /// Capability `c` as the boolean column `column` (call once per capability; replaces
    /// an array column).
    pub fn capability_flag(mut self, c: Capability, column: &str) -> Table {
        if !matches!(self.capabilities, CapabilityColumns::Flags(_)) {
            self.capabilities = CapabilityColumns::Flags(Vec::new());
        }
        if let CapabilityColumns::Flags(flags) = &mut self.capabilities {
            flags.retain(|(f, _)| *f != c);
            flags.push((c, column.to_string()));
        }
        self
    }

    /// No capability columns.
    pub fn no_capabilities(mut self) -> Table {
        self.capabilities = CapabilityColumns::None;
        self
    }

    /// The `integrations.billing.economic.enabled` column (`None`: always false).
    pub fn economic_enabled_column(mut self, column: Option<&str>) -> Table {
        self.economic_enabled = column.map(str::to_string);
        self
    }

    /// The attributes column, a JSON object (`json`, `jsonb` or text; `None`: no
    /// attributes).
    pub fn attributes_column(mut self, column: Option<&str>) -> Table {
        self.attributes = column.map(str::to_string);
        self
    }

    /// The table's schema.
    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The table's name, without its schema.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `"schema"."table"`.
    pub fn qualified(&self) -> String {
        format!("{}.{}", quote(&self.schema), quote(&self.name))
    }

    /// The columns the follower reads, each once.
    pub(crate) fn columns(&self) -> Vec<&str> {
        let mut out = vec![self.id.as_str(), self.parent.as_str()];
        out.extend(self.display_name.as_deref());
        match &self.capabilities {
            CapabilityColumns::None => {}
            CapabilityColumns::Array(c) => out.push(c),
            CapabilityColumns::Flags(f) => out.extend(f.iter().map(|(_, c)| c.as_str())),
        }
        out.extend(self.economic_enabled.as_deref());
        out.extend(self.attributes.as_deref());
        out
    }

    /// The query that reads every row as six columns, in sibling order (by id, as
    /// numbers when `numeric_ids`, else by the bytes of the ids' text): id and parent
    /// id as text (`NULL`: a root, also a row that is its own parent), name, capability
    /// names (`text[]`), the economic flag and the attributes as JSON text. Each is a
    /// cast the server does cheaply; the records are made on this side.
    pub fn load_query(&self, numeric_ids: bool) -> String {
        let id = quote(&self.id);
        let parent = quote(&self.parent);
        let name = self.display_name.as_ref().map_or("''".to_string(), |c| {
            format!("coalesce({}::text, '')", quote(c))
        });
        let capabilities = match &self.capabilities {
            CapabilityColumns::None => "'{}'::text[]".to_string(),
            CapabilityColumns::Array(c) => format!("{}::text[]", quote(c)),
            CapabilityColumns::Flags(flags) => {
                let cases: Vec<String> = flags
                    .iter()
                    .map(|(cap, c)| {
                        format!("CASE WHEN {} THEN {} END", quote(c), literal(cap.name()))
                    })
                    .collect();
                format!("ARRAY[{}]::text[]", cases.join(", "))
            }
        };
        let economic = self
            .economic_enabled
            .as_ref()
            .map_or("false".to_string(), |c| {
                format!("coalesce({}, false)", quote(c))
            });
        let attributes = self
            .attributes
            .as_ref()
            // The column's own text, as the stream sends it: a cast to `jsonb` first
            // rewrote numbers (`1e2` as `100`) that the stream's text keeps, so a row
            // loaded and the same row streamed carried other attributes.
            .map_or("NULL::text".to_string(), |c| format!("{}::text", quote(c)));
        let order = if numeric_ids {
            id.clone()
        } else {
            format!("{id}::text COLLATE \"C\"")
        };
        format!(
            // Output names apart from the table's columns: `ORDER BY` then sorts by the
            // column, not by its text.
            "SELECT {id}::text AS r_id, NULLIF({parent}::text, {id}::text) AS r_parent, \
             {name} AS r_name, {capabilities} AS r_capabilities, {economic} AS r_economic, \
             {attributes} AS r_attributes FROM ONLY {table} ORDER BY {order}",
            table = self.qualified(),
        )
    }

    /// The query of the rows naming a parent the table does not hold (no foreign key
    /// stopped its delete): each row's id and that parent's, as text.
    pub(crate) fn strays_query(&self) -> String {
        let id = quote(&self.id);
        let parent = quote(&self.parent);
        format!(
            "SELECT c.{id}::text, c.{parent}::text FROM ONLY {table} c \
             WHERE c.{parent} IS NOT NULL AND c.{parent}::text <> c.{id}::text \
               AND NOT EXISTS (SELECT 1 FROM ONLY {table} p WHERE p.{id}::text = c.{parent}::text)",
            table = self.qualified(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_literals_are_quoted() {
        assert_eq!(quote(r#"we"ird"#), r#""we""ird""#);
        assert_eq!(literal("it's"), "'it''s'");
        let t = Table::new(r#"s"x.t"#).id_column("i d");
        assert!(t
            .load_query(true)
            .contains(r#"FROM ONLY "s""x"."t" ORDER BY "i d""#));
        assert!(t
            .load_query(false)
            .ends_with(r#"ORDER BY "i d"::text COLLATE "C""#));
    }

    #[test]
    fn columns_each_once() {
        let t = Table::new("r")
            .capability_flag(Capability::Iptv, "a")
            .capability_flag(Capability::Iptv, "b");
        assert_eq!(
            t.columns(),
            [
                "id",
                "parent_id",
                "name",
                "b",
                "economic_enabled",
                "attributes"
            ]
        );
    }
}
