<?php

// A Symfony Mercure token factory that signs HS256 tokens the way the
// component's LcobucciFactory does: the lcobucci/jwt library it needs is
// not packaged by Debian, so this file stands in for it. What matters for
// the hub is the shape of the result, which is kept identical:
//   - header {"typ":"JWT","alg":"HS256"};
//   - claim {"mercure":{"publish":[...],"subscribe":[...]}} plus the
//     additional claims the caller passes (Authorization::createCookie
//     passes "exp" as a DateTimeImmutable);
//   - "exp" as a NumericDate with microseconds, e.g. 1767225600.123456,
//     the quirk of lcobucci/jwt that a hub must accept.

declare(strict_types=1);

require_once 'Symfony/Component/Mercure/autoload.php';

use Symfony\Component\Mercure\Jwt\TokenFactoryInterface;

final class HmacTokenFactory implements TokenFactoryInterface
{
    private string $secret;
    private ?int $lifetime;

    /**
     * @param int|null $lifetime seconds until "exp" when the caller does not
     *                           pass one; null leaves "exp" out
     */
    public function __construct(string $secret, ?int $lifetime = 3600)
    {
        if ('' === $secret) {
            throw new InvalidArgumentException('empty secret');
        }
        $this->secret = $secret;
        $this->lifetime = $lifetime;
    }

    public function create(?array $subscribe = [], ?array $publish = [], array $additionalClaims = []): string
    {
        if (null !== $this->lifetime && !array_key_exists('exp', $additionalClaims)) {
            $additionalClaims['exp'] = new DateTimeImmutable("+{$this->lifetime} seconds");
        }

        $mercure = [];
        if (null !== $publish) {
            $mercure['publish'] = array_values($publish);
        }
        if (null !== $subscribe) {
            $mercure['subscribe'] = array_values($subscribe);
        }
        $additionalClaims['mercure'] = array_merge($mercure, $additionalClaims['mercure'] ?? []);

        $claims = [];
        foreach ($additionalClaims as $name => $value) {
            if ($value instanceof DateTimeInterface) {
                $value = self::numericDate($value);
            }
            if (null !== $value) {
                $claims[$name] = $value;
            }
        }

        $header = self::b64(self::json(['typ' => 'JWT', 'alg' => 'HS256']));
        $payload = self::b64(self::json($claims));
        $signature = self::b64(hash_hmac('sha256', "$header.$payload", $this->secret, true));

        return "$header.$payload.$signature";
    }

    // numericDate keeps the microseconds, as lcobucci/jwt does: a float
    // that json_encode writes with its fraction (1767225600.5, or
    // 1767225600.0 when the microseconds happen to be zero).
    private static function numericDate(DateTimeInterface $t): float
    {
        return (float) $t->format('U.u');
    }

    private static function json(array $v): string
    {
        return json_encode($v, JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_PRESERVE_ZERO_FRACTION | JSON_THROW_ON_ERROR);
    }

    private static function b64(string $raw): string
    {
        return rtrim(strtr(base64_encode($raw), '+/', '-_'), '=');
    }
}
