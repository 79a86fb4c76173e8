# Postgres or Redis stopped while nginx runs: the health check fails fast with 503 unavailable,
# the worker keeps serving, and it recovers by itself once the server is back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use Test::More;
use Time::HiRes qw(time);
use ChatTest;

my $ng = start_nginx(workers => 3);

sub healthy_in_a_row {
    my ($path, $n) = @_;
    for (1 .. $n) {
        return 0 unless $ng->get($path)->{status} == 200;
    }
    return 1;
}

for my $case (
    [ 'Postgres', '/chat/api/v1/health/db',    \&pg_stop,    \&pg_start ],
    [ 'Redis',    '/chat/api/v1/health/redis', \&redis_stop, \&redis_start ],
) {
    my ($what, $path, $stop, $start) = @$case;

    subtest "$what stopped: $path answers 503 unavailable with Retry-After in under 1 s" => sub {
        ok(wait_until(sub { healthy_in_a_row($path, 6) }, 10), "$path is 200 before the outage");

        $stop->();

        for my $i (1 .. 8) {
            my $r = $ng->get($path);
            is($r->{status}, 503, "request $i: 503") or diag($r->{body});
            is($r->{json} && $r->{json}{error}{code}, 'unavailable', "request $i: error.code unavailable");
            ok(defined $r->{headers}{'retry-after'}, "request $i: Retry-After header");
            cmp_ok($r->{elapsed}, '<', 1, sprintf("request %d: answered in %.3f s", $i, $r->{elapsed}));
        }

        my $h = $ng->get('/chat/api/v1/health');
        is($h->{status}, 200, '/health stays 200 during the outage');
    };

    subtest "$what back: $path is 200 again within 10 s without touching nginx" => sub {
        $start->();
        my $t0 = time;
        my $ok = wait_until(sub { healthy_in_a_row($path, 6) }, 10, 0.2);
        ok($ok, sprintf("%s 200 six times in a row after %.1f s", $path, time - $t0));
    };
}

$ng->stop;

done_testing;
