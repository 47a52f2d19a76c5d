<?php

// Builds the mercureAuthorization cookie with Symfony's Mercure
// Authorization service, as a Symfony controller does before rendering a
// page that subscribes to private updates.
//
// Input, on standard input, one JSON object:
//   {"hub": "<public hub URL>", "request": "<URL of the page request>",
//    "secret": "...", "subscribe": ["https://example.com/books/{id}"]}
// Output, one JSON line: {"set_cookie": "<Set-Cookie header value>",
//                         "token": "<the cookie's JWT>"}

declare(strict_types=1);

require_once 'Symfony/Component/Mercure/autoload.php';
require_once __DIR__.'/HmacTokenFactory.php';

use Symfony\Component\HttpFoundation\Request;
use Symfony\Component\Mercure\Authorization;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\HubRegistry;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;

$spec = json_decode((string) stream_get_contents(STDIN), true, 32, JSON_THROW_ON_ERROR);
foreach (['hub', 'request', 'secret'] as $key) {
    if (!is_string($spec[$key] ?? null)) {
        fwrite(STDERR, "cookie.php: input needs \"$key\"\n");
        exit(2);
    }
}

// The publisher token is not used here; the factory signs the cookie.
$hub = new Hub($spec['hub'], new StaticTokenProvider('unused.unused.unused'), new HmacTokenFactory($spec['secret']));
// Default lifetime (session.cookie_lifetime, 0 in php-cli: a session
// cookie whose token expires in an hour) and SameSite=Strict, as in an
// application that keeps the bundle's defaults.
$authorization = new Authorization(new HubRegistry($hub));
$cookie = $authorization->createCookie(Request::create($spec['request']), (array) ($spec['subscribe'] ?? []));

echo json_encode([
    'set_cookie' => (string) $cookie,
    'token' => $cookie->getValue(),
], JSON_UNESCAPED_SLASHES | JSON_THROW_ON_ERROR), "\n";
