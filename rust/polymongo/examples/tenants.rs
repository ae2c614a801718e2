//! One model, many tenant databases, one shared pool; typed documents; errors by kind.
//!     cargo run -p polymongo --example tenants -- mongodb://127.0.0.1:27017
use polymongo::{doc, ErrorKind, FindOptions, IndexModel, IndexOptions, ModelOptions, Options, PolyMongo};
use serde::{Deserialize, Serialize};

#[derive(Debug, Serialize, Deserialize)]
struct User {
    email: String,
    plan: String,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let uri = std::env::args().nth(1).unwrap_or_else(|| "mongodb://127.0.0.1:27017".into());
    let pm = PolyMongo::new(&Options::new(uri).max_pool_size(10))?;
    let unique_email = IndexModel::new(doc! {"email": 1}).options(IndexOptions::default().unique(true));
    let users = pm.model("users", ModelOptions::default().indexes(vec![unique_email]))?;

    for tenant in ["acme", "globex", "initech"] {
        let db = users.db(&format!("tenant_{tenant}"))?.typed::<User>(); // no I/O yet
        let user = User { email: format!("admin@{tenant}.example"), plan: "pro".into() };
        match db.insert_one(&user, None) {
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::DuplicateKey => println!("{tenant}: already there"),
            Err(e) => return Err(e.into()),
        }
        for u in db.find(doc! {"plan": "pro"}, FindOptions::default().limit(10))? {
            println!("{tenant}: {:?}", u?);
        }
    }
    println!("{} pool(s) open for 3 databases", pm.open_pools()?);
    Ok(())
}
