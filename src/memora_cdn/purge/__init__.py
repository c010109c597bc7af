"""CDN purgers: tell the CDN which URLs changed (none, or Cloudflare)."""
