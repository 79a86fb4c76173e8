# nginx -s reload (SIGHUP) five times under load: no request is lost, the zone does not grow,
# the reload counter counts, and the error log stays clean.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";

use HTTP::Tiny;
use POSIX qw(_exit);
use Test::More;
use Time::HiRes qw(sleep);
use ChatTest;

my $ng = start_nginx(workers => 3);

ok(wait_until(sub { ($ng->status->{postgres}{state} // '') eq 'up' }, 5), 'Postgres is up');

# warm up every worker, then measure
$ng->get('/chat/api/v1/health/db') for 1 .. 12;
my $before = $ng->status;
my $used_before    = $before->{zone}{used};
my $reloads_before = $before->{counters}{reloads};
ok(defined $used_before, "zone.used before: $used_before");

# a client loop in a child process: one new connection per request
my $results = $ng->dir . '/client.txt';
pipe(my $rd, my $wr) or die "pipe: $!";
my $child = fork // die "fork: $!";
if ($child == 0) {
    close $rd;
    my $http = HTTP::Tiny->new(timeout => 10, keep_alive => 0);
    my ($n, @bad) = (0);
    my $stop = 0;
    open my $progress, '>', "$results.progress" or die "progress: $!";
    $progress->autoflush(1);
    local $SIG{TERM} = sub { $stop = 1 };
    eval {
        while (!$stop) {
            for my $p ('/chat/api/v1/health', '/chat/api/v1/health/db', '/chat/status') {
                my $r = $http->get($ng->url($p));
                $n++;
                print $progress '.';
                push @bad, "$p: $r->{status} $r->{reason} " . substr($r->{content} // '', 0, 200)
                    if $r->{status} >= 500;
            }
        }
        1;
    } or push @bad, "client died: $@";
    print $wr "$n\n", map { "$_\n" } @bad;
    close $wr;
    _exit(0);
}
close $wr;

# each reload happens while the client is busy: after at least 12 more of its requests
# (a fixed pause would count fewer on a slow or sanitized build)
sub client_sent { -s "$results.progress" // 0 }
for my $i (1 .. 5) {
    my $mark = client_sent();
    wait_until(sub { client_sent() >= $mark + 12 }, 20, 0.05);
    ok(eval { $ng->reload }, "reload $i: new workers answer") or diag($@);
}
my $mark = client_sent();
wait_until(sub { client_sent() >= $mark + 12 }, 20, 0.05);
kill 'TERM', $child;
my @lines = <$rd>;
waitpid $child, 0;
chomp @lines;
my $total = shift(@lines) // 0;

cmp_ok($total, '>', 50, "the client sent $total requests during the reloads");
is(scalar(@lines), 0, 'every request got an answer: no connection error, no 5xx')
    or diag(join "\n", @lines[0 .. ($#lines > 20 ? 20 : $#lines)]);

# after the old workers are gone, the zone is as full as before
ok(wait_until(sub { $ng->worker_pids == 3 }, 10), 'three workers after the reloads');
$ng->get('/chat/api/v1/health/db') for 1 .. 12;
my $after = $ng->status;
is($after->{zone}{used}, $used_before, 'zone.used is the same after five reloads');
cmp_ok($after->{counters}{reloads}, '>=', ($reloads_before // 0) + 5, 'counters.reloads counted the five reloads');

$ng->stop;

done_testing;
