//! One record read by its id on the record's own path (a push-only API has no listing):
//! what `verify` reads per id. A 404 says the server does not hold it; a 2xx that does not
//! fit the mapping says so with the reason, never as the record.

use super::push_read::parse_body;
use super::{ApiClient, ApiError};
use crate::mapping::{clip, shape_of};
use crate::record::Supplier;

/// What a per-id GET found.
#[derive(Debug, Clone)]
pub enum ItemRead {
    Found(Supplier),
    /// The server answered 404: it does not hold the record.
    Missing,
    /// A 2xx that does not read as the record through the mapping: why.
    Unfit(String),
}

impl ApiClient {
    /// GET on the record's path (`api.push_path` per record, `api.item_path` in
    /// sub-requests); `Err` for what a paced read retries or gives up on.
    pub async fn read_item(&self, id: &str) -> Result<ItemRead, ApiError> {
        let Some(path) = self.mapping.push.item_path() else {
            return Err(super::config_error(
                "the mapping has no path naming one record ({supplier_id}): the server \
                 cannot be read per id; set api.verify_read = \"list\""
                    .into(),
            ));
        };
        let path = path.render(|f| {
            if f == "supplier_id" {
                id.to_string()
            } else {
                String::new()
            }
        });
        let reply = self
            .call_reading(self.http.get(self.url(&path)), &|s| s == 404)
            .await?;
        if reply.status == 404 {
            return Ok(ItemRead::Missing);
        }
        if !self.mapping.answers.success.fits(&reply.body) {
            return Ok(ItemRead::Unfit(format!(
                "HTTP {} with a body api.success_when does not count as a success",
                reply.status
            )));
        }
        let answer = match parse_body(&reply.body) {
            Ok(v) => v,
            Err(e) => return Ok(ItemRead::Unfit(e.to_string())),
        };
        let at = &self.mapping.push.record_envelope;
        let Some(record) = at.get(&answer) else {
            return Ok(ItemRead::Unfit(format!(
                "record envelope `{at}` found nothing; {}",
                shape_of(&answer)
            )));
        };
        match self.mapping.fields.decode(record) {
            Ok(s) if s.supplier_id == id => Ok(ItemRead::Found(s)),
            Ok(s) => Ok(ItemRead::Unfit(format!(
                "the answer holds record {:?}",
                clip(&s.supplier_id, 64)
            ))),
            Err(why) => Ok(ItemRead::Unfit(format!("did not fit the mapping: {why}"))),
        }
    }
}
