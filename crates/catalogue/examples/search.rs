//! Searches the bundled catalogue from the command line and prints the hits.
//!
//! ```text
//! cargo run -p iamsmart-catalogue --example search -- "申請公屋" "renew my ID card"
//! ```

use iamsmart_catalogue::{Catalogue, Index, Lang};

fn main() -> Result<(), iamsmart_catalogue::Error> {
    let catalogue = Catalogue::bundled()?;
    let index = Index::build(&catalogue)?;
    for query in std::env::args().skip(1) {
        let lang = if query.chars().any(iamsmart_catalogue::is_han) {
            Lang::Zh
        } else {
            Lang::En
        };
        let results = index.search(&query, Some(lang), 5)?;
        println!("{query:?}");
        if results.empty_query {
            println!("  (nothing to search for)");
        }
        for c in &results.corrections {
            println!("  typo: {} -> {}", c.typed, c.searched);
        }
        if !results.synonyms_added.is_empty() {
            println!("  also searched: {}", results.synonyms_added.join(", "));
        }
        for hit in &results.hits {
            let service = catalogue.get(&hit.id).expect("hit is in the catalogue");
            println!(
                "  {:6.2}  {:40} {} / {}  {:?}",
                hit.score, hit.id, service.name.en, service.name.zh, hit.matched
            );
        }
    }
    Ok(())
}
