//! Write models for `bulk_write`, and update specifications.
use bson::{Bson, Document};
use serde::Serialize;

/// An update: operators (`doc! {"$set": {...}}`) or an aggregation pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum Update {
    Document(Document),
    Pipeline(Vec<Document>),
}

impl From<Document> for Update {
    fn from(d: Document) -> Self {
        Update::Document(d)
    }
}

impl From<Vec<Document>> for Update {
    fn from(p: Vec<Document>) -> Self {
        Update::Pipeline(p)
    }
}

impl Update {
    /// As a document: a pipeline becomes a document keyed "0", "1", ... (a BSON array's bytes),
    /// which is how the C API takes a pipeline.
    pub(crate) fn to_document(&self) -> Document {
        match self {
            Update::Document(d) => d.clone(),
            Update::Pipeline(stages) => {
                stages.iter().enumerate().map(|(i, s)| (i.to_string(), Bson::Document(s.clone()))).collect()
            }
        }
    }
}

impl Serialize for Update {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Update::Document(d) => d.serialize(s),
            Update::Pipeline(p) => p.serialize(s),
        }
    }
}

/// One operation of a bulk write. Serialises to the C API's `{insertOne: {...}}`,
/// `{updateOne: {...}}`, ... documents.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum WriteModel {
    InsertOne(InsertOneModel),
    UpdateOne(UpdateModel),
    UpdateMany(UpdateModel),
    ReplaceOne(ReplaceOneModel),
    DeleteOne(DeleteModel),
    DeleteMany(DeleteModel),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InsertOneModel {
    pub document: Document,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateModel {
    pub filter: Document,
    pub update: Update,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upsert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub array_filters: Option<Vec<Document>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<Document>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Bson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplaceOneModel {
    pub filter: Document,
    pub replacement: Document,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upsert: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<Document>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Bson>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeleteModel {
    pub filter: Document,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub collation: Option<Document>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<Bson>,
}

impl WriteModel {
    pub fn insert_one(document: Document) -> Self {
        WriteModel::InsertOne(InsertOneModel { document })
    }

    pub fn update_one(filter: Document, update: impl Into<Update>) -> Self {
        WriteModel::UpdateOne(UpdateModel::new(filter, update.into()))
    }

    pub fn update_many(filter: Document, update: impl Into<Update>) -> Self {
        WriteModel::UpdateMany(UpdateModel::new(filter, update.into()))
    }

    pub fn replace_one(filter: Document, replacement: Document) -> Self {
        WriteModel::ReplaceOne(ReplaceOneModel {
            filter,
            replacement,
            upsert: None,
            collation: None,
            hint: None,
        })
    }

    pub fn delete_one(filter: Document) -> Self {
        WriteModel::DeleteOne(DeleteModel { filter, collation: None, hint: None })
    }

    pub fn delete_many(filter: Document) -> Self {
        WriteModel::DeleteMany(DeleteModel { filter, collation: None, hint: None })
    }

    /// Sets `upsert` on an update or replace (no effect on other operations).
    pub fn upsert(mut self, upsert: bool) -> Self {
        match &mut self {
            WriteModel::UpdateOne(m) | WriteModel::UpdateMany(m) => m.upsert = Some(upsert),
            WriteModel::ReplaceOne(m) => m.upsert = Some(upsert),
            _ => {}
        }
        self
    }
}

impl UpdateModel {
    fn new(filter: Document, update: Update) -> Self {
        UpdateModel { filter, update, upsert: None, array_filters: None, collation: None, hint: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn models_serialise_to_the_c_shape() {
        let ops = [
            WriteModel::insert_one(doc! {"a": 1}),
            WriteModel::update_one(doc! {"a": 1}, doc! {"$set": {"b": 2}}).upsert(true),
            WriteModel::delete_many(doc! {}),
        ];
        let docs: Vec<Document> = ops.iter().map(|o| bson::to_document(o).unwrap()).collect();
        assert_eq!(docs[0], doc! {"insertOne": {"document": {"a": 1}}});
        assert_eq!(
            docs[1],
            doc! {"updateOne": {"filter": {"a": 1}, "update": {"$set": {"b": 2}}, "upsert": true}}
        );
        assert_eq!(docs[2], doc! {"deleteMany": {"filter": {}}});
    }

    #[test]
    fn pipeline_updates_become_index_keyed_documents() {
        let u = Update::from(vec![doc! {"$set": {"a": 1}}]);
        assert_eq!(u.to_document(), doc! {"0": {"$set": {"a": 1}}});
    }
}
