# The admin API (API.md admin table): agents are listed, created, updated and
# soft-deleted (a password change revokes tokens; a deleted agent can't log in and
# their open chats go back to the queue); the FAQ is created, updated and deleted,
# and every change reaches every worker of every node without a restart. Only
# admins get in: others get 403.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use Time::HiRes qw(time);

# Deterministic global state for the requeue check: nobody online, no open conversation.
ChatTest::sql("UPDATE agents SET presence = 'offline';
               UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL
                WHERE status <> 'closed'");

my $rate = 'chat_rate 1000r/s burst=1000;';
my $ng  = ChatTest::start_nginx(workers => 4, http => $rate);
my $ng2 = ChatTest::start_nginx(workers => 2, http => $rate);    # a second node

my $run = sprintf('%d%d', $$, int(time * 1000) % 100000);
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }
sub bearer { { Authorization => "Bearer $_[0]" } }
my $A  = '/chat/api/v1/agent';
my $AD = '/chat/api/v1/admin';
sub login { $ng->post("$A/login", json => { username => $_[0], password => $_[1] }) }

my $admin = bearer(login('admin', 'Admin@123')->{json}{token});

# --- agents ---------------------------------------------------------------------------

my $list = $ng->get("$AD/agents", headers => $admin);
is($list->{status}, 200, 'the admin lists agents: 200');
my %by_name = map { $_->{username} => $_ } @{ $list->{json}{agents} };
ok($by_name{admin} && $by_name{'john.doe'}, 'the list has the seeded agents');
is($by_name{admin}{role}, 'admin', 'with their roles');
ok(exists $by_name{'john.doe'}{presence} && exists $by_name{'john.doe'}{max_active_chats}
   && exists $by_name{'john.doe'}{active_chats}, 'as Agent objects');
unlike($list->{body}, qr/password/i, 'and no password or hash');

my $user = "t23.agent.$run";
my $pass = "T23-Pass-$run";
my $new = $ng->post("$AD/agents", headers => $admin,
                    json => { username => $user, display_name => 'T23 Agent', password => $pass,
                              role => 'agent', max_active_chats => 1 });
is($new->{status}, 201, 'the admin creates an agent: 201');
my $ag = $new->{json}{agent};
is($ag->{username}, $user, 'the answer is the Agent');
is($ag->{display_name}, 'T23 Agent', 'with display_name');
is($ag->{role}, 'agent', 'role');
is($ag->{max_active_chats}, 1, 'max_active_chats');
is($ag->{presence}, 'offline', 'offline at first');
unlike($new->{body}, qr/\Q$pass\E|password/i, 'and no password');
ok((grep { $_->{id} eq $ag->{id} } @{ $ng->get("$AD/agents", headers => $admin)->{json}{agents} }),
   'the new agent is listed');

my $taken = $ng->post("$AD/agents", headers => $admin,
                      json => { username => $user, display_name => 'Again', password => "Other-$pass",
                                role => 'agent', max_active_chats => 2 });
is($taken->{status}, 409, 'a taken username is 409');
is($taken->{json}{error}{code}, 'conflict', 'with code conflict');

my $weak = $ng->post("$AD/agents", headers => $admin,
                     json => { username => "t23.weak.$run", display_name => 'Weak', password => 'short-9c',
                               role => 'agent', max_active_chats => 2 });
is($weak->{status}, 422, 'a password under 10 characters is 422');
is($weak->{json}{error}{code}, 'validation', 'with code validation');
my $nine = $ng->post("$AD/agents", headers => $admin,
                     json => { username => "t23.nine.$run", display_name => 'Nine', password => '123456789',
                               role => 'agent', max_active_chats => 2 });
is($nine->{status}, 422, 'exactly 9 characters is still 422');
is(login("t23.weak.$run", 'short-9c')->{status}, 401, 'and no agent was created');

my $badrole = $ng->post("$AD/agents", headers => $admin,
                        json => { username => "t23.role.$run", display_name => 'Role', password => "Good-$pass",
                                  role => 'emperor', max_active_chats => 2 });
is($badrole->{status}, 422, 'an unknown role is 422');
is($ng->post("$AD/agents", headers => $admin, body => '{"username":',
             headers => { %$admin, 'content-type' => 'application/json' })->{status}, 400,
   'a body that is not JSON is 400');

my $l1 = login($user, $pass);
is($l1->{status}, 200, 'the new agent can log in');
my $tok1 = bearer($l1->{json}{token});

# PATCH
my $p = $ng->patch("$AD/agents/$ag->{id}", headers => $admin,
                   json => { display_name => 'T23 Renamed', max_active_chats => 4, role => 'supervisor' });
is($p->{status}, 200, 'PATCH display_name, max_active_chats and role: 200');
is($p->{json}{agent}{display_name}, 'T23 Renamed', 'display_name changed');
is($p->{json}{agent}{max_active_chats}, 4, 'max_active_chats changed');
is($p->{json}{agent}{role}, 'supervisor', 'role changed');
my $me = $ng->get("$A/me", headers => $tok1);
is($me->{status}, 200, 'the agent\'s token still works after a PATCH without password');
is($me->{json}{agent}{display_name}, 'T23 Renamed', 'and /me shows the new name');
is($me->{json}{agent}{role}, 'supervisor', 'and the new role');
is($ng->patch("$AD/agents/$ag->{id}", headers => $admin, json => { role => 'agent', max_active_chats => 1 })->{status},
   200, 'PATCH back to role agent, capacity 1');
is($ng->patch("$AD/agents/$ag->{id}", headers => $admin, json => { max_active_chats => 'many' })->{status}, 422,
   'a bad max_active_chats is 422');
is($ng->patch("$AD/agents/$ag->{id}", headers => $admin, json => { password => 'short' })->{status}, 422,
   'a weak new password is 422');
is($ng->get("$A/me", headers => $tok1)->{status}, 200, 'and revokes nothing');
is($ng->patch("$AD/agents/00000000-0000-4000-8000-000000000000", headers => $admin,
              json => { display_name => 'x' })->{status}, 404, 'PATCH of an unknown agent is 404');

my $pass2 = "T23-New-Pass-$run";
my $pp = $ng->patch("$AD/agents/$ag->{id}", headers => $admin, json => { password => $pass2 });
is($pp->{status}, 200, 'PATCH password: 200');
unlike($pp->{body}, qr/\Q$pass2\E/, 'without echoing the password');
for my $i (1 .. 3) {
    is($ng->get("$A/me", headers => $tok1)->{status}, 401, "the old token is 401 after the password change (try $i)");
}
is(login($user, $pass)->{status}, 401, 'the old password no longer logs in');
my $l2 = login($user, $pass2);
is($l2->{status}, 200, 'the new password does');
my $tok2 = bearer($l2->{json}{token});

# DELETE: their open chats go back to the queue
is($ng->post("$A/presence", headers => $tok2, json => { presence => 'online' })->{status}, 200,
   'the agent goes online');
my $s = $ng->post('/chat/api/v1/session', json => {})->{json};
my $cust = bearer($s->{token});
my $e = $ng->post('/chat/api/v1/escalate', headers => $cust, json => {});
is($e->{json}{conversation}{assigned_agent}{id}, $ag->{id}, 'a customer who escalates gets them');

my $del = $ng->delete("$AD/agents/$ag->{id}", headers => $admin);
is($del->{status}, 204, 'DELETE answers 204');
is(login($user, $pass2)->{status}, 401, 'the deleted agent cannot log in');
is($ng->get("$A/me", headers => $tok2)->{status}, 401, 'and their token is 401');
my $cv = $ng->get('/chat/api/v1/conversation?after=0', headers => $cust)->{json};
is($cv->{conversation}{status}, 'agent', 'their open chat stays open');
is($cv->{conversation}{assigned_agent}, undef, 'but has no agent');
is($cv->{conversation}{queue_position}, 1, 'and is back in the queue');
ok((grep { $_->{content} eq 'T23 Renamed joined the chat' } @{ $cv->{messages} }), 'the history keeps their name');
ok(!(grep { $_->{id} eq $ag->{id} } @{ $ng->get("$AD/agents", headers => $admin)->{json}{agents} }),
   'the deleted agent is not listed');
my ($dl) = grep { $_->{id} eq $ag->{id} } @{ $ng->get("$AD/agents?deleted=1", headers => $admin)->{json}{agents} };
ok($dl, '?deleted=1 lists them');
is($ng->delete("$AD/agents/$ag->{id}", headers => $admin)->{status}, 404, 'deleting again is 404');
is($ng->patch("$AD/agents/$ag->{id}", headers => $admin, json => { display_name => 'x' })->{status}, 404,
   'a deleted agent cannot be patched');
my $recreate = $ng->post("$AD/agents", headers => $admin,
                         json => { username => $user, display_name => 'Again', password => "Other-$pass",
                                   role => 'agent', max_active_chats => 2 });
is($recreate->{status}, 201, "a deleted agent's username is free again") or diag(explain $recreate->{json});
my $again = $recreate->{json}{agent};
isnt($again->{id}, $ag->{id}, '... for a new agent (a new id)');
is(login($user, $pass2)->{status}, 401, "... the deleted agent's password does not open it");
my $l3 = login($user, "Other-$pass");
is($l3->{status}, 200, '... its own password does') or diag(explain $l3->{json});
is($l3->{json}{agent}{id}, $again->{id}, '... as the new agent');
is($ng->get("$A/me", headers => $tok2)->{status}, 401, "... and the deleted agent's token stays 401");
is($ng->post("$AD/agents", headers => $admin,
             json => { username => uc $user, display_name => 'Third', password => "Third-$pass",
                       role => 'agent', max_active_chats => 2 })->{status}, 409,
   '... taken again while the new agent lives (any case)');
my ($still) = grep { $_->{id} eq $ag->{id} } @{ $ng->get("$AD/agents?deleted=1", headers => $admin)->{json}{agents} };
is($still && $still->{display_name}, 'T23 Renamed', '... and the deleted one keeps its row and name');
$ng->post("$A/conversations/$cv->{conversation}{id}/close", headers => $admin, json => {});

# --- only admins --------------------------------------------------------------------------

my %role_tok;
for my $role ('agent', 'supervisor') {
    my $u = "t23.only-$role.$run";
    my $c = $ng->post("$AD/agents", headers => $admin,
                      json => { username => $u, display_name => "T23 \u$role", password => "Role-$pass",
                                role => $role, max_active_chats => 2 });
    is($c->{status}, 201, "a $role is created");
    $role_tok{$role} = bearer(login($u, "Role-$pass")->{json}{token});
}
for my $role (sort keys %role_tok) {
    my $h = $role_tok{$role};
    my @r = (
        [ 'GET /admin/agents',          $ng->get("$AD/agents", headers => $h) ],
        [ 'POST /admin/agents',         $ng->post("$AD/agents", headers => $h,
              json => { username => "t23.x.$role.$run", display_name => 'X', password => "X-$pass",
                        role => 'admin', max_active_chats => 1 }) ],
        [ 'PATCH /admin/agents/{id}',   $ng->patch("$AD/agents/$by_name{'john.doe'}{id}", headers => $h,
              json => { role => 'admin' }) ],
        [ 'DELETE /admin/agents/{id}',  $ng->delete("$AD/agents/$by_name{'john.doe'}{id}", headers => $h) ],
        [ 'GET /admin/faq',             $ng->get("$AD/faq", headers => $h) ],
        [ 'POST /admin/faq',            $ng->post("$AD/faq", headers => $h,
              json => { slug => "t23-x-$run", question => 'q?', answer => 'a', display_order => 1, keywords => [] }) ],
        [ 'PATCH /admin/faq/{slug}',    $ng->patch("$AD/faq/shipping-time", headers => $h, json => { is_active => JSON::PP::false }) ],
        [ 'DELETE /admin/faq/{slug}',   $ng->delete("$AD/faq/shipping-time", headers => $h) ],
    );
    for (@r) {
        is($_->[1]{status}, 403, "a $role gets 403 on $_->[0]");
        is($_->[1]{json}{error}{code}, 'forbidden', '  with code forbidden');
    }
}
is(login("t23.x.agent.$run", "X-$pass")->{status}, 401, 'the refused creation created nothing');

# --- GET /agent/agents: every agent's colleagues (the transfer picker) -------------------

{
    my $r = $ng->get("$A/agents", headers => $role_tok{agent});
    is($r->{status}, 200, 'a plain agent lists the colleagues') or diag(explain $r->{json});
    my %by_id = map { $_->{id} => $_ } @{ $r->{json}{agents} || [] };
    ok($by_id{$again->{id}}, '... the live agent who took a deleted name is there');
    ok(!$by_id{$ag->{id}}, '... the deleted agent is not');
    ok($by_id{$by_name{'john.doe'}{id}}, '... nor missing a seeded one');
    is_deeply([sort keys %{ $by_id{$again->{id}} }],
              [sort qw(id username display_name role presence max_active_chats active_chats sites departments totp_enabled)],
              '... each an Agent object, nothing more (no hash, no token version)');
    my $me = $ng->get("$A/me", headers => $role_tok{agent})->{json}{agent};
    is($by_id{$me->{id}}{presence}, $me->{presence}, '... with their presence as it is now');
    is($ng->get("$A/agents")->{status}, 401, 'without a token: 401');
}
is($ng->get("$AD/agents", headers => $admin)->{json}{agents}
   && (grep { $_->{username} eq 'john.doe' && $_->{role} eq 'agent' } @{ $ng->get("$AD/agents", headers => $admin)->{json}{agents} })
   ? 1 : 0, 1, 'john.doe is still an agent');
is($ng->get("/chat/api/v1/faq")->{json}{faq}
   && (grep { $_->{slug} eq 'shipping-time' } @{ $ng->get('/chat/api/v1/faq')->{json}{faq} }) ? 1 : 0, 1,
   'and shipping-time is still in the FAQ');
is($ng->get("$AD/agents")->{status}, 401, 'without a token /admin/agents is 401');
is($ng->get("$AD/faq")->{status}, 401, 'without a token /admin/faq is 401');

# --- FAQ ---------------------------------------------------------------------------------

(my $word = "quokka$run") =~ tr/0-9/a-j/;    # a word no other entry has
my $slug = "t23-wrap-$run";
my $answer = "Yes: $word gift wrapping is free on every order.";
my $fc = $ng->post("$AD/faq", headers => $admin,
                   json => { slug => $slug, question => "Do you offer $word gift wrapping?",
                             answer => $answer, display_order => 90, keywords => [ $word, 'giftwrap' ] });
is($fc->{status}, 201, 'the admin creates a FAQ entry: 201');
is($fc->{json}{faq}{slug}, $slug, 'the answer is the entry');
is($fc->{json}{faq}{answer}, $answer, 'with its answer');
my $fdup = $ng->post("$AD/faq", headers => $admin,
                     json => { slug => $slug, question => 'Other?', answer => 'Other', display_order => 91, keywords => [] });
is($fdup->{status}, 409, 'a taken slug is 409');
is($fdup->{json}{error}{code}, 'conflict', 'with code conflict');
is($ng->post("$AD/faq", headers => $admin,
             json => { slug => 'Bad Slug!', question => 'Q?', answer => 'A', display_order => 1, keywords => [] })->{status},
   422, 'a malformed slug is 422');
my ($adm) = grep { $_->{slug} eq $slug } @{ $ng->get("$AD/faq", headers => $admin)->{json}{faq} };
ok($adm, 'GET /admin/faq lists it');
ok($adm && $adm->{is_active}, 'as active');

# every worker of both nodes: several reads in a row must all have it
sub faq_has {
    my ($node, $want) = @_;
    for (1 .. 12) {
        my $f = $node->get('/chat/api/v1/faq')->{json}{faq} or return 0;
        my $has = grep { $_->{slug} eq $slug } @$f;
        return 0 if ($has ? 1 : 0) != $want;
    }
    return 1;
}
my $t0 = time;
ok(wait_until(sub { faq_has($ng, 1) && faq_has($ng2, 1) }, 10, 0.2),
   'the new entry reaches GET /faq on every worker of both nodes within 10 s, without restart')
    or diag('after ' . (time - $t0) . ' s');
my ($pub) = grep { $_->{slug} eq $slug } @{ $ng2->get('/chat/api/v1/faq')->{json}{faq} };
is($pub->{answer}, $answer, 'the public entry has the answer');
ok(!exists $pub->{is_active} && !exists $pub->{keywords}, 'and is a plain FaqEntry') or diag(explain $pub);

my $bot_ok = 0;
for my $node ($ng, $ng, $ng, $ng, $ng2, $ng2) {
    my $c = bearer($node->post('/chat/api/v1/session', json => {})->{json}{token});
    my $m = $node->post('/chat/api/v1/messages', headers => $c,
                        json => { text => "Can I get $word gift wrapping for a present?", client_id => uuid() });
    my $b = $m->{json}{messages}[1];
    $bot_ok++ if $b && $b->{sender_type} eq 'bot' && ($b->{metadata}{faq} // '') eq $slug && $b->{content} eq $answer;
}
is($bot_ok, 6, 'the bot answers a matching customer question with it, on every node');
my $qr = bearer($ng->post('/chat/api/v1/session', json => {})->{json}{token});
my $qm = $ng->post('/chat/api/v1/messages', headers => $qr, json => { faq => $slug, client_id => uuid() });
is($qm->{status}, 201, 'a customer can pick it as a quick reply');
is($qm->{json}{messages}[1]{content}, $answer, 'and gets its answer');

my $fp = $ng->patch("$AD/faq/$slug", headers => $admin, json => { answer => "$answer (updated)" });
is($fp->{status}, 200, 'PATCH answer: 200');
is($fp->{json}{faq}{answer}, "$answer (updated)", 'returns the updated entry');
ok(wait_until(sub {
    for my $node ($ng, $ng, $ng, $ng, $ng2, $ng2) {
        my ($x) = grep { $_->{slug} eq $slug } @{ $node->get('/chat/api/v1/faq')->{json}{faq} };
        return 0 unless $x && $x->{answer} eq "$answer (updated)";
    }
    1 }, 10, 0.2), 'the new answer reaches every worker');

my $off = $ng->patch("$AD/faq/$slug", headers => $admin, json => { is_active => JSON::PP::false });
is($off->{status}, 200, 'PATCH is_active=false: 200');
ok(wait_until(sub { faq_has($ng, 0) && faq_has($ng2, 0) }, 10, 0.2),
   'the entry disappears from GET /faq on every worker of both nodes');
my ($inactive) = grep { $_->{slug} eq $slug } @{ $ng->get("$AD/faq", headers => $admin)->{json}{faq} };
ok($inactive && !$inactive->{is_active}, 'GET /admin/faq still lists it, inactive');
my $c2 = bearer($ng->post('/chat/api/v1/session', json => {})->{json}{token});
my $m2 = $ng->post('/chat/api/v1/messages', headers => $c2,
                   json => { text => "Can I get $word gift wrapping for a present?", client_id => uuid() });
isnt($m2->{json}{messages}[1]{metadata}{faq} // '', $slug, 'and the bot no longer answers with it');

is($ng->patch("$AD/faq/no-such-slug-$run", headers => $admin, json => { answer => 'x' })->{status}, 404,
   'PATCH of an unknown slug is 404');
my $fd = $ng->delete("$AD/faq/$slug", headers => $admin);
is($fd->{status}, 204, 'DELETE answers 204');
ok(!(grep { $_->{slug} eq $slug } @{ $ng->get("$AD/faq", headers => $admin)->{json}{faq} }),
   'GET /admin/faq no longer lists it');
is($ng->delete("$AD/faq/$slug", headers => $admin)->{status}, 404, 'deleting again is 404');

$ng2->stop;
$ng->stop;
done_testing;
