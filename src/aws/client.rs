//! The skeleton every service client shares ([`ServiceClient`]: a list of actions over one
//! [`QueryClient`], built from a [`ClientConfig`]) and the one pagination loop of their
//! describes ([`paginate`]).

use std::future::Future;

use super::config::ClientConfig;
use super::query::QueryClient;
use super::regional::FromConfig;
use super::service::Service;
use super::Error;

/// A service client: the actions of one [`Service`] over a [`QueryClient`], which does the
/// signing, retries, budget, fence and metrics. Implementing it makes the client buildable
/// per (role, region) by `Regional`.
pub trait ServiceClient: Sized {
    /// The API the client speaks.
    const SERVICE: &'static Service;

    fn from_query(query: QueryClient) -> Self;

    fn query(&self) -> &QueryClient;

    fn config(&self) -> &ClientConfig {
        self.query().config()
    }
}

impl<C: ServiceClient> FromConfig for C {
    fn from_config(config: ClientConfig) -> Result<C, Error> {
        Ok(C::from_query(QueryClient::new(C::SERVICE, config)?))
    }
}

/// Every item of a paginated describe: `page` is called with the token (marker) of the
/// page to read (`None` first) and returns its items and the next token. It stops at the
/// last page, at a token that does not move (which would loop forever), or fails after
/// `max_pages` pages.
pub async fn paginate<T, F, Fut>(action: &'static str, max_pages: usize, mut page: F) -> Result<Vec<T>, Error>
where
    F: FnMut(Option<String>) -> Fut,
    Fut: Future<Output = Result<(Vec<T>, Option<String>), Error>>,
{
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    for _ in 0..max_pages {
        let (items, next) = page(token.clone()).await?;
        out.extend(items);
        match next {
            Some(t) if Some(&t) != token.as_ref() => token = Some(t),
            _ => return Ok(out),
        }
    }
    Err(Error::UnexpectedResponse { action, status: 200, snippet: format!("more than {max_pages} pages") })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[tokio::test]
    async fn follows_tokens_to_the_last_page() {
        let seen = Mutex::new(Vec::new());
        let out = paginate("DescribeThings", 10, |token| {
            seen.lock().unwrap().push(token.clone());
            async move {
                Ok(match token.as_deref() {
                    None => (vec![1, 2], Some("a".to_string())),
                    Some("a") => (vec![3], Some("b".to_string())),
                    _ => (vec![4], None),
                })
            }
        })
        .await
        .unwrap();
        assert_eq!(out, vec![1, 2, 3, 4]);
        assert_eq!(*seen.lock().unwrap(), vec![None, Some("a".into()), Some("b".into())]);
    }

    #[tokio::test]
    async fn a_token_that_does_not_move_ends_the_loop_and_too_many_pages_fail() {
        let stuck = paginate("DescribeThings", 10, |_| async { Ok((vec![1], Some("same".to_string()))) }).await.unwrap();
        assert_eq!(stuck, vec![1, 1], "the repeated token is read once more, then the loop stops");
        let mut n = 0;
        let endless = paginate("DescribeThings", 3, |_| {
            n += 1;
            let t = n.to_string();
            async move { Ok((vec![0], Some(t))) }
        })
        .await;
        assert!(matches!(endless, Err(Error::UnexpectedResponse { action: "DescribeThings", .. })), "{endless:?}");
    }

    #[tokio::test]
    async fn an_error_on_a_page_is_the_result() {
        let r: Result<Vec<u8>, _> = paginate("DescribeThings", 3, |_| async { Err(Error::Config("boom".into())) }).await;
        assert!(matches!(r, Err(Error::Config(_))));
    }
}
