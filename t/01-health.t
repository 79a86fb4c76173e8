# Operations endpoints: health, health/db, health/redis, the API's error shape, /chat/status and /chat/metrics.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use ChatTest;

my $ng = start_nginx(workers => 3);

subtest 'GET /health answers 200 {"status":"ok"} as application/json' => sub {
    my $r = $ng->get('/chat/api/v1/health');
    is($r->{status}, 200, 'status 200');
    like($r->{headers}{'content-type'} // '', qr{^application/json}, 'Content-Type application/json');
    is_deeply($r->{json}, { status => 'ok' }, 'body {"status":"ok"}');
};

subtest 'GET /health/db makes a round trip to Postgres and answers 200 ok' => sub {
    # workers open their pool when they start; give the first connection a moment
    my $r = wait_until(sub { my $x = $ng->get('/chat/api/v1/health/db'); $x->{status} == 200 && $x }, 5);
    ok($r, '200 within 5 s of start') or return;
    is_deeply($r->{json}, { status => 'ok' }, 'body {"status":"ok"}');
    for (1 .. 6) {
        my $x = $ng->get('/chat/api/v1/health/db');
        is($x->{status}, 200, "request $_: 200") or diag($x->{body});
    }
};

subtest 'GET /health/redis PINGs Redis and answers 200 ok' => sub {
    my $r = wait_until(sub { my $x = $ng->get('/chat/api/v1/health/redis'); $x->{status} == 200 && $x }, 5);
    ok($r, '200 within 5 s of start') or return;
    is_deeply($r->{json}, { status => 'ok' }, 'body {"status":"ok"}');
};

subtest 'an unknown API path answers 404 not_found in the error shape' => sub {
    my $r = $ng->get('/chat/api/v1/no/such/thing');
    is($r->{status}, 404, 'status 404');
    like($r->{headers}{'content-type'} // '', qr{^application/json}, 'JSON');
    is($r->{json}{error}{code}, 'not_found', 'error.code not_found');
    ok(length($r->{json}{error}{message} // ''), 'error.message present');
};

subtest 'POST to /health answers 405 method_not_allowed' => sub {
    my $r = $ng->post('/chat/api/v1/health', json => {});
    is($r->{status}, 405, 'status 405');
    is($r->{json}{error}{code}, 'method_not_allowed', 'error.code method_not_allowed');
};

subtest '/chat/status is JSON with zone use, connection states and counters' => sub {
    my $s = wait_until(sub {
        my $j = $ng->status;
        $j && ($j->{postgres}{state} // '') eq 'up' && ($j->{redis}{state} // '') eq 'up' && $j
    }, 5);
    ok($s, 'postgres.state and redis.state reach "up"') or diag(explain($ng->status));
    $s ||= $ng->status || {};
    is($s->{zone}{size}, 16 * 1024 * 1024, 'zone.size is the configured size');
    ok(defined $s->{zone}{used} && $s->{zone}{used} > 0 && $s->{zone}{used} <= $s->{zone}{size},
       'zone.used is between 0 and the size');
    is(ref $s->{counters}, 'HASH', 'counters present');
    ok(defined $s->{counters}{$_}, "counters.$_") for qw(requests errors reloads);
};

subtest "/chat/status's counters add up every worker's answers" => sub {
    # each worker counts into a set of its own; /chat/status sums them all
    my $first = $ng->status;
    my $since = 1;              # answers sent after $first was sampled: itself
    my $other = wait_until(sub {
        my $s = $ng->status;
        return $s if $s->{worker_pid} != $first->{worker_pid};
        $since++;
        return 0;
    }, 10);
    ok($other, 'another worker answered /chat/status') or return;
    is($other->{counters}{requests}, $first->{counters}{requests} + $since,
       "its counters.requests counts the first worker's answers too");
};

subtest '/chat/metrics is Prometheus text' => sub {
    my $r = $ng->get('/chat/metrics');
    is($r->{status}, 200, 'status 200');
    like($r->{headers}{'content-type'} // '', qr{^text/plain}, 'text/plain');
    like($r->{body}, qr/^nginx_chat_zone_size_bytes \d+$/m, 'nginx_chat_zone_size_bytes');
    like($r->{body}, qr/^# TYPE nginx_chat_\w+ (gauge|counter)$/m, 'TYPE lines');
};

$ng->stop;

subtest 'without chat_redis, /health/redis answers 200 {"status":"disabled"}' => sub {
    my $nr = start_nginx(workers => 2, no_redis => 1);
    my $r = $nr->get('/chat/api/v1/health/redis');
    is($r->{status}, 200, 'status 200');
    is_deeply($r->{json}, { status => 'disabled' }, 'body {"status":"disabled"}');
    is($nr->status->{redis}{state}, 'disabled', '/chat/status says redis disabled');
    $nr->stop;
};

done_testing;
