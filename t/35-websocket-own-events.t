# Every socket hears each event once, whichever worker raised it (API.md "Events"): a worker
# hears its own events back from Redis like every other worker's, and its sockets must hear
# them exactly once, in order, like the sockets of the node's other workers.
#
# Two workers, eight agent sockets and a customer socket spread over them; the customer's
# posts land on either worker. Redis hands every subscriber its messages in one order, so a
# socket that heard the last post's events has heard every earlier event it will ever hear
# (no sleeps, no times).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use ChatWS;

my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', $$ * 10000 + ++$n) }

my $ng = start_nginx(workers => 2);
my $A = '/chat/api/v1/agent';
my $admin = ChatTest::bearer($ng->agent_login('admin', 'Admin@123')->{token});
my $sup = $ng->new_agent($admin, 'own', role => 'supervisor', max => 50);
ChatTest::quiet_state();    # nobody online: the chat below waits for the supervisor's claim

my @agents = map { ChatWS->connect(port => $ng->port, path => "$A/ws?token=$sup->{token}") } 1 .. 8;
is(scalar(grep { $_ } @agents), 8, "the supervisor's eight sockets open");

my ($c, $cws, $claim, $heard_claim) = ChatWS::claimed_chat($ng, $ng, $ng, $sup, @agents);
ok($cws, "the customer's socket opens");
is($claim, 200, 'the supervisor claims the queued chat');
is($heard_claim, 9, 'every socket hears the claim');

# ten posts, each one message (no bot in a chat with an agent) and one conversation.updated,
# then the last one
my @seqs;
for my $i (1 .. 11) {
    my $r = $ng->post('/chat/api/v1/messages', headers => $c->{auth},
                      json => { text => "post $i", client_id => uuid() });
    is($r->{status}, 201, "post $i is answered 201") if $i == 1 || $i == 11;
    push @seqs, map { $_->{seq} } @{ $r->{json}{messages} // [] };
}
my $last = sub { $_[0]{type} eq 'message.created' && ($_[0]{data}{content} // '') eq 'post 11' };

# the last post's conversation.updated follows its message.created
is(ChatWS::heard_exactly($c->{id}, $last, \@seqs, 10, @agents, $cws), 9,
   'every socket, on either worker, heard each post once and in order');

$_->close for grep { $_ } @agents, $cws;
$ng->stop;
done_testing;
