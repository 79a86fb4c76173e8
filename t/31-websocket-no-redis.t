# Realtime on one node without Redis (API.md "Events"; chat_redis is optional):
# workers reach each other through the shared-memory event ring, so a socket on
# one worker hears a write handled by any other.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;

my $ng = ChatTest::start_nginx(workers => 4, no_redis => 1);
is($ng->get('/chat/api/v1/health/redis')->{json}{status}, 'disabled', 'this nginx runs without Redis');

my $n = 0;
my @c;
for my $i (1 .. 16) {
    my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
    my $ws = ChatWS->connect(port => $ng->port, path => "/chat/api/v1/ws?after=1&token=$s->{token}");
    push @c, { h => { Authorization => "Bearer $s->{token}" }, ws => $ws };
}
is(scalar(grep { $_->{ws} } @c), 16, '16 sockets are open, spread over 4 workers');
$_->{ws}->drain(0.2) for @c;

# each write goes through a fresh connection, to whichever worker the kernel picks
for my $i (0 .. $#c) {
    $ng->post('/chat/api/v1/messages', headers => $c[$i]{h},
              json => { text => "ring $i", client_id => sprintf('00000000-0000-4000-8000-%012d', $$ * 100 + $i) });
}
my $got = 0;
for my $i (0 .. $#c) {
    my @m = grep { $_->{type} eq 'message.created' && $_->{data}{sender_type} eq 'customer' } $c[$i]{ws}->drain(1);
    $got++ if @m == 1 && $m[0]{data}{content} eq "ring $i";
}
is($got, 16, 'every socket hears its own write once, whichever worker handled it');

my $st = $ng->status;
ok(defined $st->{sockets}{open}, '/chat/status counts open sockets');

$_->{ws}->close for @c;
$ng->stop;
done_testing;
