<?php

// Publishes updates with Symfony's Mercure component (Hub, Update and a
// token provider), as a Symfony application does.
//
// Input, on standard input, one JSON object:
//   {
//     "hub": "http://127.0.0.1:PORT/.well-known/mercure",
//     "provider": "static" | "callable" | "factory" | "laravel",
//     "token": "...",                       (static, callable)
//     "secret": "...", "publish": ["*"],    (factory)
//     "secret": "...",                      (laravel)
//     "updates": [{"topics": [...], "data": "...", "private": false,
//                  "id": null, "type": null, "retry": null}, ...]
//   }
// Output, on standard output, one JSON line per update, in order:
//   {"ok": true, "id": "<the id the hub answered>"}
//   {"ok": false, "status": 401, "error": "..."}
// With the factory and laravel providers, a first line {"token": "..."}
// shows the token they produced, so the caller can check its claims.
//
// The laravel provider publishes as mvanduijker/laravel-mercure-broadcaster
// does: the component's (deprecated) Publisher with a closure that signs
// {"mercure":{"publish":["*"]}} with the secret and no exp.
// Exit status: 0 once every update was tried, 2 on bad input.

declare(strict_types=1);

require_once 'Symfony/Component/Mercure/autoload.php';
require_once __DIR__.'/HmacTokenFactory.php';

use Symfony\Component\Mercure\Exception\RuntimeException as MercureRuntimeException;
use Symfony\Component\Mercure\Hub;
use Symfony\Component\Mercure\Jwt\CallableTokenProvider;
use Symfony\Component\Mercure\Jwt\FactoryTokenProvider;
use Symfony\Component\Mercure\Jwt\StaticTokenProvider;
use Symfony\Component\Mercure\Jwt\TokenProviderInterface;
use Symfony\Component\Mercure\Publisher;
use Symfony\Component\Mercure\Update;
use Symfony\Contracts\HttpClient\Exception\HttpExceptionInterface;

function out(array $line): void
{
    echo json_encode($line, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_THROW_ON_ERROR), "\n";
}

function fail(string $message): never
{
    fwrite(STDERR, "publish.php: $message\n");
    exit(2);
}

$input = stream_get_contents(STDIN);
try {
    $spec = json_decode((string) $input, true, 32, JSON_THROW_ON_ERROR);
} catch (JsonException $e) {
    fail('input is not JSON: '.$e->getMessage());
}
if (!is_array($spec) || !is_string($spec['hub'] ?? null) || !is_array($spec['updates'] ?? null)) {
    fail('input needs "hub" and "updates"');
}

$provider = null;
$publish = null; // callable(Update): string, the id
switch ($spec['provider'] ?? '') {
    case 'static':
        $provider = new StaticTokenProvider((string) ($spec['token'] ?? ''));
        break;
    case 'callable':
        $token = (string) ($spec['token'] ?? '');
        $provider = new CallableTokenProvider(static fn (): string => $token);
        break;
    case 'factory':
        $factory = new HmacTokenFactory((string) ($spec['secret'] ?? ''));
        $provider = new FactoryTokenProvider($factory, [], (array) ($spec['publish'] ?? []));
        out(['token' => $provider->getJwt()]);
        break;
    case 'laravel':
        $token = (new HmacTokenFactory((string) ($spec['secret'] ?? ''), null))->create(null, ['*']);
        out(['token' => $token]);
        $publish = new Publisher($spec['hub'], static fn (): string => $token);
        break;
    default:
        fail('unknown provider '.json_encode($spec['provider'] ?? null));
}
if (null === $publish) {
    assert($provider instanceof TokenProviderInterface);
    $hub = new Hub($spec['hub'], $provider);
    $publish = static fn (Update $u): string => $hub->publish($u);
}

foreach ($spec['updates'] as $u) {
    $update = new Update(
        $u['topics'],
        (string) ($u['data'] ?? ''),
        (bool) ($u['private'] ?? false),
        $u['id'] ?? null,
        $u['type'] ?? null,
        isset($u['retry']) ? (int) $u['retry'] : null,
    );
    try {
        out(['ok' => true, 'id' => $publish($update)]);
    } catch (MercureRuntimeException|HttpExceptionInterface $e) {
        // Hub wraps the HTTP client's exception, Publisher lets it
        // through; the response tells why the hub refused.
        $status = 0;
        $previous = $e instanceof HttpExceptionInterface ? $e : $e->getPrevious();
        if ($previous instanceof HttpExceptionInterface) {
            $status = $previous->getResponse()->getStatusCode();
        }
        out(['ok' => false, 'status' => $status, 'error' => $e->getMessage().($previous && $previous !== $e ? ': '.$previous->getMessage() : '')]);
    }
}
