//! Subdomain takeover: which names the check looks at, and which CNAME targets belong to
//! hosting services where anyone can claim an unused name. Pure data and matching.

/// The names below the domain whose CNAMEs are checked, besides the domain itself: the ones
/// that most often point at a hosted site, blog, documentation, shop or status page. Kept
/// small on purpose — each is one more query, and enumerating subdomains is the crawler's job.
pub const SUBDOMAINS: &[&str] = &["www", "blog", "docs", "shop", "status", "help"];

/// Hosting services that hand out names under their own domain and let anyone claim one
/// that is free: a CNAME to such a name that no longer exists (NXDOMAIN) can be taken over.
/// Matched on whole labels (`x.github.io`, not `x.notgithub.io`).
const SERVICES: &[(&str, &str)] = &[
    ("herokuapp.com", "Heroku"),
    ("herokudns.com", "Heroku"),
    ("github.io", "GitHub Pages"),
    ("azurewebsites.net", "Azure App Service"),
    ("cloudapp.net", "Azure Cloud Services"),
    ("cloudapp.azure.com", "Azure virtual machines"),
    ("trafficmanager.net", "Azure Traffic Manager"),
    ("blob.core.windows.net", "Azure Blob Storage"),
    ("azureedge.net", "Azure CDN"),
    ("cloudfront.net", "Amazon CloudFront"),
    ("elasticbeanstalk.com", "AWS Elastic Beanstalk"),
    ("fastly.net", "Fastly"),
    ("netlify.app", "Netlify"),
    ("netlify.com", "Netlify"),
    ("pantheonsite.io", "Pantheon"),
    ("ghost.io", "Ghost"),
    ("surge.sh", "Surge"),
    ("bitbucket.io", "Bitbucket"),
    ("readthedocs.io", "Read the Docs"),
];

/// The hosting service `target` belongs to, if it is one where names can be claimed.
/// Amazon S3 names are recognised by their `s3` or `s3-…` label under `amazonaws.com`
/// (`bucket.s3.amazonaws.com`, `bucket.s3.eu-west-1.amazonaws.com`,
/// `bucket.s3-website-us-east-1.amazonaws.com`, `bucket.s3-website.eu-west-1.amazonaws.com`).
pub fn service_of(target: &str) -> Option<&'static str> {
    let target = target.trim_end_matches('.').to_ascii_lowercase();
    if let Some(rest) = target.strip_suffix(".amazonaws.com") {
        let is_s3 = rest
            .split('.')
            .skip(1)
            .any(|label| label == "s3" || label.starts_with("s3-"));
        return is_s3.then_some("Amazon S3");
    }
    SERVICES.iter().find_map(|(suffix, service)| {
        target
            .strip_suffix(suffix)
            .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1)
            .then_some(*service)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takeover_services_are_recognised_on_label_boundaries() {
        assert_eq!(service_of("shop.herokuapp.com"), Some("Heroku"));
        assert_eq!(service_of("Example.GitHub.io."), Some("GitHub Pages"));
        assert_eq!(
            service_of("files.blob.core.windows.net"),
            Some("Azure Blob Storage")
        );
        assert_eq!(
            service_of("d111111abcdef8.cloudfront.net"),
            Some("Amazon CloudFront")
        );
        assert_eq!(service_of("site.netlify.app"), Some("Netlify"));
        assert_eq!(service_of("docs.readthedocs.io"), Some("Read the Docs"));
        assert_eq!(service_of("x.notgithub.io"), None);
        assert_eq!(service_of("github.io"), None);
        assert_eq!(service_of("www.example.com"), None);
    }

    #[test]
    fn s3_names_are_recognised_by_their_label() {
        for target in [
            "bucket.s3.amazonaws.com",
            "bucket.s3.eu-west-1.amazonaws.com",
            "bucket.s3-website-us-east-1.amazonaws.com",
            "bucket.s3-website.eu-west-1.amazonaws.com",
        ] {
            assert_eq!(service_of(target), Some("Amazon S3"), "{target}");
        }
        assert_eq!(service_of("ec2-1-2-3-4.compute-1.amazonaws.com"), None);
        assert_eq!(service_of("s3.amazonaws.com"), None);
    }
}
