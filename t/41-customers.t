# Customer identity (API.md "Operators", "Customer identity"): a session belongs to a
# customer, who spans the browser's conversations (a new chat after a closed one is the same
# customer's); POST /identify names them (validated: 422 naming the field); every
# Conversation shows its customer; the agent view adds the customer's earlier
# conversations ("history"); agents hear the name and email at once.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use ChatWS;
use Time::HiRes qw(time);

ChatTest::sql("UPDATE agents SET presence = 'offline'");

my $ng = ChatTest::start_nginx(workers => 2, http => 'chat_rate 1000r/s burst=1000;');
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8041-%012d', ++$n + $$ * 1000) }
my $C = '/chat/api/v1';
my $A = '/chat/api/v1/agent';
my $admin_login = $ng->post("$A/login", json => { username => 'admin', password => 'Admin@123' });
is($admin_login->{status}, 200, 'the admin logs in') or BAIL_OUT('no admin');
my $admin = bearer($admin_login->{json}{token});

# --- a new session is a new customer, nameless ----------------------------------------------

my $s = $ng->post("$C/session", json => {})->{json};
my $cust = bearer($s->{token});
my $conv1 = $s->{conversation};
my $who = $conv1->{customer};
ok($who && $who->{id}, 'a new conversation has a customer');
is_deeply([$who->{name}, $who->{email}], [undef, undef], '... with no name or email yet');
my $other = $ng->post("$C/session", json => {})->{json}{conversation}{customer};
isnt($other->{id}, $who->{id}, 'another browser is another customer');

# --- POST /identify: validated --------------------------------------------------------------

for my $case (
    [{ email => 'not-an-email' },            'email'],
    [{ email => 'ana@example' },             'email'],
    [{ email => 'ana @example.com' },        'email'],
    [{ email => 'a' x 250 . '@example.com' }, 'email'],
    [{ email => 42 },                        'email'],
    [{ name => '' },                         'name'],
    [{ name => '   ' },                      'name'],
    [{ name => 'x' x 129 },                  'name'],
    [{ name => "Ana\x01" },                  'name'],
    [{},                                     'name or email'],
) {
    my ($body, $field) = @$case;
    my $r = $ng->post("$C/identify", headers => $cust, json => $body);
    is($r->{status}, 422, "identify refuses " . join(',', map { "$_=" . substr($body->{$_}, 0, 20) } sort keys %$body) . ': 422');
    like($r->{json}{error}{message} // '', qr/\Q$field\E/, "... naming $field");
}
is($ng->post("$C/identify", json => { name => 'Ana' })->{status}, 401, 'identify without a session token: 401');
is($ng->get("$C/conversation?after=0", headers => $cust)->{json}{conversation}{customer}{name}, undef,
   'nothing refused was stored');

# an agent socket hears the identification at once
my $ws = ChatWS->connect(port => $ng->port, path => "$A/ws", headers => $admin);
ok($ws, "the admin's dashboard socket is open");
my $e = $ng->post("$C/escalate", headers => $cust, json => {});
is($e->{status}, 200, 'the customer asks for a person (queued: nobody is online)');
$ws->drain(0.5);

my $id = $ng->post("$C/identify", headers => $cust, json => { name => 'Ana Lima', email => 'ana.lima@example.com' });
is($id->{status}, 200, 'identify with a name and an email: 200') or diag(explain $id->{json});
is($id->{json}{conversation}{id}, $conv1->{id}, '... answering the conversation');
is_deeply($id->{json}{conversation}{customer},
          { id => $who->{id}, name => 'Ana Lima', email => 'ana.lima@example.com' }, '... with its customer named');
my @heard = grep { $_->{type} eq 'conversation.updated' && ($_->{conversation_id} // '') eq $conv1->{id} } $ws->drain(2);
ok(@heard && $heard[-1]{data}{customer}{email} eq 'ana.lima@example.com', 'the dashboard hears the email at once');
ok(!(grep { $_->{type} eq 'chat.closed' } $ws->drain(0.2)), '... and nothing else');
$ws->close;

is($ng->get("$C/conversation?after=0", headers => $cust)->{json}{conversation}{customer}{email}, 'ana.lima@example.com',
   'the customer reads it back (the cached copy was dropped)');
my $only_email = $ng->post("$C/identify", headers => $cust, json => { email => 'ana@example.org' });
is_deeply([@{ $only_email->{json}{conversation}{customer} }{qw(name email)}], ['Ana Lima', 'ana@example.org'],
          'an email alone keeps the name');

# --- the agent view: the customer, and the earlier conversations -----------------------------

my $view1 = $ng->get("$A/conversations/$conv1->{id}", headers => $admin)->{json};
is($view1->{conversation}{customer}{name}, 'Ana Lima', "the agent view shows the customer's name");
is_deeply($view1->{history}, [], '... and no earlier conversation yet');

is($ng->post("$A/conversations/$conv1->{id}/claim", headers => $admin)->{status}, 200, 'the admin takes the chat');
is($ng->post("$A/conversations/$conv1->{id}/close", headers => $admin, json => {})->{status}, 200, '... and closes it');

my $back = $ng->post("$C/session", headers => $cust, json => {})->{json};
my $conv2 = $back->{conversation};
isnt($conv2->{id}, $conv1->{id}, 'the returning browser gets a new conversation');
is_deeply($conv2->{customer}, { id => $who->{id}, name => 'Ana Lima', email => 'ana@example.org' },
          '... of the same customer, still named');
my $view2 = $ng->get("$A/conversations/$conv2->{id}", headers => $admin)->{json};
is_deeply([map { $_->{id} } @{ $view2->{history} }], [$conv1->{id}], "the agent view's history holds the earlier one");
is($view2->{history}[0]{status}, 'closed', '... as a Conversation (closed)');
is_deeply($ng->get("$A/conversations/$conv1->{id}", headers => $admin)->{json}{history}, [],
          'the earlier one has no history of later ones');

# a conversation made before customers existed gets one when it identifies
my $s3 = $ng->post("$C/session", json => {})->{json};
ChatTest::sql("UPDATE conversations SET customer_id = NULL WHERE id = '$s3->{conversation}{id}'");
my $late = $ng->post("$C/identify", headers => bearer($s3->{token}), json => { name => 'Late' });
is($late->{status}, 200, 'a conversation without a customer identifies');
ok($late->{json}{conversation}{customer}{id}, '... and has one now');

ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now()
                WHERE id IN ('$conv2->{id}', '$s3->{conversation}{id}')");
is_deeply([$ng->log_problems], [], 'error.log has no [alert], [emerg] or crashed worker');
$ng->stop;

# POST /identify is a customer write like the others: the per-session rate limit holds
{
    my $slow = ChatTest::start_nginx(name => '41-rate', http => 'chat_rate 1r/m burst=2;');
    my $t = bearer($slow->post("$C/session", json => {})->{json}{token});
    my @st = map { $slow->post("$C/identify", headers => $t, json => { name => "N$_" })->{status} } 1 .. 3;
    is_deeply(\@st, [200, 200, 429], 'identify: the burst, then 429');
    my $r = $slow->post("$C/identify", headers => $t, json => { name => 'N4' });
    ok(($r->{headers}{'retry-after'} // 0) > 0, '... with Retry-After');
    $slow->stop;
}
done_testing();
