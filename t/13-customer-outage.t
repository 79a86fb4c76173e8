# Postgres stopped mid-conversation (API.md "503 unavailable"): writes answer
# 503 fast with nothing half-written, cached conversations stay readable, and
# everything works again once Postgres is back.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Time::HiRes qw(time);
use ChatTest;

my $ng = ChatTest::start_nginx(workers => 2);

my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
my $auth = { Authorization => "Bearer $s->{token}" };
my $m = $ng->post('/chat/api/v1/messages', headers => $auth,
                  json => { text => 'hello there', client_id => '00000000-0000-4000-8000-0000000aa001' });
is($m->{status}, 201, 'a message is posted while Postgres runs');
my $warm = $ng->get('/chat/api/v1/conversation?after=0', headers => $auth);
is($warm->{status}, 200, 'the conversation is read once');
my $st0 = $ng->status->{counters};

ChatTest::pg_stop();

my $t0 = time;
my $w = $ng->post('/chat/api/v1/messages', headers => $auth,
                  json => { text => 'lost?', client_id => '00000000-0000-4000-8000-0000000aa002' });
my $dt = time - $t0;
is($w->{status}, 503, 'a write with Postgres down answers 503');
is($w->{json}{error}{code}, 'unavailable', 'with code unavailable');
ok($dt < 1.5, sprintf('within a second or so (%.2fs)', $dt));
ok($w->{headers}{'retry-after'}, 'with Retry-After');

for (1 .. 4) {
    my $r = $ng->get('/chat/api/v1/conversation?after=0', headers => $auth);
    is($r->{status}, 200, "the cached conversation is still readable (try $_)");
    is($r->{json}{conversation}{last_seq}, 3, 'with its last state');
}
my $st1 = $ng->status->{counters};
ok($st1->{cache_hits} > $st0->{cache_hits}, 'served by the shared-memory cache');

my $e = $ng->post('/chat/api/v1/escalate', headers => $auth, json => {});
is($e->{status}, 503, 'escalating with Postgres down is 503');

ChatTest::pg_start();

my $back = ChatTest::wait_until(sub {
    $ng->post('/chat/api/v1/messages', headers => $auth,
              json => { text => 'back again', client_id => '00000000-0000-4000-8000-0000000aa003' })->{status} == 201
}, 15);
ok($back, 'writes work again once Postgres is back, without touching nginx');
my $h = $ng->get('/chat/api/v1/conversation?after=0', headers => $auth)->{json};
ok(!(grep { $_->{content} eq 'lost?' } @{ $h->{messages} }), 'the failed write left nothing behind');
is_deeply([ map { $_->{seq} } @{ $h->{messages} } ], [ 1 .. $h->{conversation}{last_seq} ], 'and seq has no gap');
# each worker's pool reconnects on its own backoff (at most 2 s): the one that answers the
# escalation may still be reconnecting when another already took a write (503, Retry-After)
my $esc;
ChatTest::wait_until(sub {
    $esc = $ng->post('/chat/api/v1/escalate', headers => $auth, json => {});
    $esc->{status} != 503
}, 15);
is($esc->{json}{conversation}{status}, 'agent', 'escalation works again');

$ng->stop;
done_testing;
