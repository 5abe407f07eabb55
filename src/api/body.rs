//! Reading an answer's body with a cap (`api.max_page_bytes`): a declared length past it
//! is refused before a byte is read, and a streamed body is refused the moment it passes
//! it, so no answer can make the process hold more than the cap from it.

use super::ApiError;
use super::classify;

/// The call an answer belongs to, for the refusal: method, path, and the query's numeric
/// values (page numbers, offsets, limits). Other query values are elided: a cursor or a
/// key there is none of the message's business.
#[derive(Debug, Clone)]
pub(super) struct RequestLine(String);

impl RequestLine {
    pub(super) fn of(req: &reqwest::Request) -> RequestLine {
        let url = req.url();
        let mut line = format!("{} {}", req.method(), url.path());
        let pairs: Vec<String> = url
            .query_pairs()
            .map(|(k, v)| {
                let v = if !v.is_empty() && v.len() <= 20 && v.bytes().all(|b| b.is_ascii_digit()) {
                    v.into_owned()
                } else {
                    "…".to_string()
                };
                format!("{k}={v}")
            })
            .collect();
        if !pairs.is_empty() {
            line.push('?');
            line.push_str(&pairs.join("&"));
        }
        RequestLine(crate::server_text::cap(
            &crate::server_text::strip_controls(&line),
            200,
        ))
    }
}

/// `declared`: the answer's `Content-Length` when it gave one past the cap; else the
/// streamed body ran past it.
fn too_large(line: &RequestLine, cap: u64, declared: Option<u64>) -> ApiError {
    let what = match declared {
        Some(n) => format!("is {} (its Content-Length), over", bytes(n)),
        None => "runs past".to_string(),
    };
    ApiError::TooLarge {
        message: format!(
            "the answer to {} {what} api.max_page_bytes ({}); refused, not read further. \
             Raise api.max_page_bytes if the server's pages are really this large, or ask \
             for smaller pages (sync.segment_size, or the mapping's page size)",
            line.0,
            bytes(cap)
        ),
    }
}

/// "32 MiB", "512 KiB", "900 bytes".
pub(super) fn bytes(n: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= MIB {
        format!("{:.1} MiB", n as f64 / MIB as f64)
    } else if n >= KIB {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// The body of `resp`, at most `cap` bytes.
pub(super) async fn read_capped(
    mut resp: reqwest::Response,
    cap: u64,
    line: RequestLine,
) -> Result<Vec<u8>, ApiError> {
    if let Some(n) = resp.content_length().filter(|&n| n > cap) {
        return Err(too_large(&line, cap, Some(n)));
    }
    let mut body = Vec::with_capacity(resp.content_length().unwrap_or(0).min(64 * 1024) as usize);
    while let Some(chunk) = resp
        .chunk()
        .await
        // The call is named by `line`; reqwest's URL could hold a key in its query.
        .map_err(|e| classify::transport_error(&e.without_url()))?
    {
        let need = body.len() + chunk.len();
        if need as u64 > cap {
            return Err(too_large(&line, cap, None));
        }
        // Grown by doubling, but never past the cap: the buffer holds at most the cap.
        if need > body.capacity() {
            let target = (body.capacity() * 2).max(need).min(cap as usize);
            body.reserve_exact(target - body.len());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refusal_names_the_call_and_the_key_without_query_secrets() {
        let client = reqwest::Client::new();
        let req = client
            .get("http://127.0.0.1:1/api/v1/suppliers?page=7&limit=100&cursor=abc%0Adef&key=s3cret")
            .build()
            .unwrap();
        let line = RequestLine::of(&req);
        let ApiError::TooLarge { message } = too_large(&line, 32 << 20, Some(300 << 20)) else {
            panic!("not TooLarge")
        };
        assert!(
            message.starts_with(
                "the answer to GET /api/v1/suppliers?page=7&limit=100&cursor=…&key=… is 300 MiB (its \
                 Content-Length), over api.max_page_bytes (32 MiB)"
            ),
            "{message}"
        );
        assert!(
            !message.contains("s3cret") && !message.contains("abc"),
            "{message}"
        );
        let ApiError::TooLarge { message } = too_large(&line, 4 << 20, None) else {
            panic!("not TooLarge")
        };
        assert!(
            message.contains("runs past api.max_page_bytes (4 MiB); refused, not read further"),
            "{message}"
        );
        assert_eq!(bytes(1536 * 1024), "1.5 MiB");
        assert_eq!(bytes(512 * 1024), "512 KiB");
    }
}
