# A node that publishes a loop turn's events in one Redis message (chat_redis ... batch=on)
# and a node that publishes one message per event (batch=off: a cluster halfway through
# switching batches on, every node already reading them) share one Redis: every socket on
# either node hears each event once and in order (API.md "Events"), whichever node raised it.
#
# A supervisor's sockets on both nodes and the customer's socket; the customer's posts go to
# either node. A subscriber of the test's own on chat:events shows what each node sent. Redis
# hands every subscriber its messages in one order, so a socket that heard the last post's
# events has heard every earlier event it will ever hear (no sleeps, no times).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }

# A plain RESP subscriber of chat:events: the payloads it hears, in order.
my $redis = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => ChatTest::redis_port(), Timeout => 5)
    or die "redis: $!";
print $redis "*2\r\n\$9\r\nSUBSCRIBE\r\n\$11\r\nchat:events\r\n";
my $buf = '';
sub resp_fill {
    my $got = sysread($redis, $buf, 65536, length $buf);
    die "redis subscriber: connection closed\n" unless $got;
}
sub resp_line { resp_fill() while $buf !~ /\r\n/; $buf =~ s/^([^\r]*)\r\n//; $1 }
sub resp_bulk {
    my ($len) = resp_line() =~ /^\$(\d+)$/ or die "redis subscriber: not a bulk string\n";
    resp_fill() while length($buf) < $len + 2;
    my $s = substr($buf, 0, $len);
    substr($buf, 0, $len + 2, '');
    $s;
}
# the next push: (kind, channel, payload or count)
sub resp_push {
    my ($count) = resp_line() =~ /^\*(\d+)$/ or die "redis subscriber: not a push\n";
    my ($kind, $channel) = (resp_bulk(), resp_bulk());
    my $last = $kind eq 'message' ? resp_bulk() : resp_line();
    ($kind, $channel, $last);
}
my ($kind) = resp_push();
is($kind, 'subscribe', "the test's subscriber listens on chat:events");

my $on  = start_nginx(workers => 2, redis_batch => 'on',  name => '36-on');
my $off = start_nginx(workers => 2, redis_batch => 'off', name => '36-off');
my $A = '/chat/api/v1/agent';
my $admin = ChatTest::bearer($on->agent_login('admin', 'Admin@123')->{token});
my $sup = $on->new_agent($admin, 'batch', role => 'supervisor', max => 50);
ChatTest::quiet_state();    # nobody online: the chat below waits for the supervisor's claim

my @agents = map { my $ng = $_; map { ChatWS->connect(port => $ng->port, path => "$A/ws?token=$sup->{token}") } 1 .. 4 }
    $on, $off;
is(scalar(grep { $_ } @agents), 8, "the supervisor's eight sockets open, four on each node");

my ($c, $cws, $claim, $heard_claim) = ChatWS::claimed_chat($on, $off, $off, $sup, @agents);
ok($cws, "the customer's socket opens on the other node");
is($claim, 200, 'the supervisor claims the queued chat on the other node');
is($heard_claim, 9, 'every socket hears the claim');

# eleven posts, each one message (no bot in a chat with an agent) and one conversation.updated,
# odd ones to the batching node
my @seqs;
for my $i (1 .. 11) {
    my $ng = $i % 2 ? $on : $off;
    my $r = $ng->post('/chat/api/v1/messages', headers => $c->{auth},
                      json => { text => "post $i", client_id => uuid() });
    is($r->{status}, 201, "post $i is answered 201 by the " . ($i % 2 ? 'batching' : 'other') . ' node');
    push @seqs, map { $_->{seq} } @{ $r->{json}{messages} // [] };
}
my $last = sub { $_[0]{type} eq 'message.created' && ($_[0]{data}{content} // '') eq 'post 11' };

# the last post's conversation.updated follows its message.created
is(ChatWS::heard_exactly($c->{id}, $last, \@seqs, 10, @agents, $cws), 9,
   'every socket, on either node, heard each post once and in order');

# What went through Redis: each post's message.created, with the conversation.updated of its
# write in the same message from the batching node, alone from the other.
my (%batched, %alone);
while (1) {
    my ($k, $channel, $payload) = resp_push();
    next unless $k eq 'message' && index($payload, $c->{id}) >= 0;
    my ($post) = $payload =~ /"content":"post (\d+)"/ or next;
    my $events = () = $payload =~ /\{"type":"/g;
    if ($payload =~ /^b1\n/) { $batched{$post} = $events } else { $alone{$post} = $events }
    last if $post == 11;
}
is(join(',', map { $batched{$_} // 0 } 1, 3, 5, 7, 9, 11), '2,2,2,2,2,2',
   "the batching node's posts went as one message each, with both events of the write");
is(join(',', map { $alone{$_} // 0 } 2, 4, 6, 8, 10), '1,1,1,1,1',
   "the other node's posts went one event a message");

# chat_redis's batch= is on or off, nothing else
{
    my $dir = ChatTest::var_dir() . "/t/36-conf";
    system('mkdir', '-p', $dir);
    open my $fh, '>', "$dir/bad.conf" or die $!;
    print $fh "load_module " . ChatTest::module_so() . ";\nevents {}\nhttp { chat_redis 127.0.0.1:"
            . ChatTest::redis_port() . " batch=yes; server { listen 127.0.0.1:1; } }\n";
    close $fh;
    my ($ok, $out) = ChatTest::nginx_test("$dir/bad.conf");
    ok(!$ok, 'nginx -t refuses chat_redis batch=yes');
    like($out, qr/invalid parameter "batch=yes", expected batch=on or batch=off/, 'and says what it takes');
}

$_->close for grep { $_ } @agents, $cws;
$on->stop;
$off->stop;
done_testing;
