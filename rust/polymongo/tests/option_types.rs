//! Find options of the wrong type or value are refused by the C library before anything is sent:
//! `ErrorKind::InvalidArgument`, with a message naming the option, on the real server.
mod common;

use common::*;
use polymongo::{doc, ErrorKind, FindOptions};

#[test]
fn wrong_types_and_negative_values_are_invalid_arguments() {
    let pm = wrapper();
    let db = pm.model("rows", None).unwrap().db(&unique_db("findopts")).unwrap();
    db.insert_many(vec![doc! {"i": 1}, doc! {"i": 2}], None).unwrap();
    for (opts, option) in [
        (FindOptions::default().option("limit", "5"), "'limit'"),
        (FindOptions::default().option("skip", "2"), "'skip'"),
        (FindOptions::default().option("batchSize", "10"), "'batchSize'"),
        (FindOptions::default().skip(-1), "'skip'"),
        (FindOptions::default().batch_size(-3), "'batchSize'"),
        (FindOptions::default().max_time_ms(-5), "'maxTimeMS'"),
    ] {
        match db.find(doc! {}, opts) {
            Ok(_) => panic!("find with a bad {option} was accepted"),
            Err(e) => {
                assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{option}: {e}");
                assert!(e.message().contains(option), "{option}: {}", e.message());
            }
        }
    }
    let err = db.find_one(doc! {}, FindOptions::default().skip(-1)).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    // Valid values still work.
    let n = db.find(doc! {}, FindOptions::default().skip(1).batch_size(1)).unwrap().count();
    assert_eq!(n, 1);
}
