# Sites (API.md "Operators", "Sites"): one nginx serving two shops (`chat_site`) keeps
# each shop's sessions, FAQ, agents, queue and events apart; a token of one site gets 401
# on the other, a conversation id of the other site 404; agents log in only on the sites
# they are granted, admins see only their site, and what existed before sites is `default`.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest qw(:DEFAULT bearer);
use ChatWS;

my $root = ChatTest::repo_root();
my $chatctl = "$root/build/core/chatctl";
die "chatctl is not built: $chatctl (make core)\n" unless -x $chatctl;

# Nobody online and no open chats: the queues below hold only this file's conversations.
ChatTest::quiet_state(unassign => 1);

my $S2 = 't40-shop';
my $ng = ChatTest::start_nginx(workers => 3, http => 'chat_rate 1000r/s burst=1000;', server => <<"CONF");
        location /shop/chat/api/ { chat_api; chat_site $S2; }
CONF

my $A  = '/chat/api/v1';          # the default site
my $B  = '/shop/chat/api/v1';     # site $S2
my $run = sprintf('%d%d', $$, time % 100000);
my $n = 0;
sub uuid { sprintf('00000000-0000-4000-8000-%012d', ++$n + $$ * 1000) }
sub login { my ($base, $u, $p) = @_; $ng->post("$base/agent/login", json => { username => $u, password => $p }) }
sub chatctl { ChatTest::chatctl(@_) }

# --- the directive ----------------------------------------------------------------------

{
    my $dir = ChatTest::var_dir() . "/t/40-sites-conf";
    system('mkdir', '-p', $dir);
    open my $fh, '>', "$dir/bad.conf" or die $!;
    print $fh "load_module " . ChatTest::module_so() . ";\nevents {}\nhttp { server { listen 127.0.0.1:1;"
            . " location / { chat_site Bad/Shop; } } }\n";
    close $fh;
    my ($ok, $out) = ChatTest::nginx_test("$dir/bad.conf");
    ok(!$ok, 'nginx -t refuses a site name outside the pattern');
    like($out, qr/invalid site name "Bad\/Shop"/, 'and says which name');
}

# --- what existed before sites is the default site's ---------------------------------

my $admin = login($A, 'admin', 'Admin@123');
is($admin->{status}, 200, 'the seeded admin logs in on the default site');
is_deeply($admin->{json}{agent}{sites}, ['default'], 'an existing agent is granted ["default"]');
my $AH = bearer($admin->{json}{token});
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE site IS NULL"), 0, 'every conversation has a site');
my $faq_a = $ng->get("$A/faq")->{json}{faq};
ok(@$faq_a >= 1, 'the default site keeps the seeded FAQ');
is_deeply($ng->get("$B/faq")->{json}{faq}, [], "site $S2 starts with an FAQ of its own, empty");
is(login($B, 'admin', 'Admin@123')->{status}, 401, "an agent not granted $S2 cannot log in there: 401");
is(login($B, 'admin', 'wrong password!!')->{status}, 401, '(the same answer as a wrong password)');

# An admin of site 2 only, made by the operator.
my $boss2 = "t40.admin.$run";
my ($rc, $out) = chatctl("Boss2-Pass-$run\n", 'agent', 'add', $boss2, '--role', 'admin', '--site', $S2,
                         '--password-stdin');
is($rc, 0, 'chatctl agent add --site grants that site') or diag $out;
($rc) = chatctl('', 'agent', 'add', "t40.bad.$run", '--site', 'Bad!', '--password-stdin');
is($rc, 1, 'chatctl refuses a site name outside the pattern');
my $adm2 = login($B, $boss2, "Boss2-Pass-$run");
is($adm2->{status}, 200, "the admin of $S2 logs in there");
is_deeply($adm2->{json}{agent}{sites}, [$S2], 'granted that site only');
my $BH = bearer($adm2->{json}{token});
is(login($A, $boss2, "Boss2-Pass-$run")->{status}, 401, 'and not on the default site');

# --- tokens are bound to their site ---------------------------------------------------------

is($ng->get("$B/agent/me", headers => $AH)->{status}, 401, "a default agent token on $S2: 401");
is($ng->get("$A/agent/me", headers => $BH)->{status}, 401, "an agent token of $S2 on the default site: 401");
is($ng->get("$B/agent/me", headers => $BH)->{status}, 200, '... and 200 on its own site');

my $ca = $ng->post("$A/session", json => {})->{json};
my $cb = $ng->post("$B/session", json => {})->{json};
ok($ca->{token} && $cb->{token}, 'a customer opens a session on each site');
isnt($ca->{token}, $cb->{token}, 'with tokens of their own');
is($ng->get("$B/conversation", headers => bearer($ca->{token}))->{status}, 401,
   "a default session token on $S2: 401");
is($ng->get("$A/conversation", headers => bearer($cb->{token}))->{status}, 401,
   "a session token of $S2 on the default site: 401");
is($ng->post("$B/messages", headers => bearer($ca->{token}), json => { text => 'hi', client_id => uuid() })->{status},
   401, '... for writes too');
is($ng->get("$A/conversation", headers => bearer($ca->{token}))->{status}, 200, '... and 200 on its own site');
my $again = $ng->post("$B/session", headers => bearer($ca->{token}), json => {})->{json};
isnt($again->{conversation}{id}, $ca->{conversation}{id},
     "POST /session on $S2 with a default token starts a new conversation there");
my (undef, $st) = ChatWS->connect(port => $ng->port, path => "$B/ws?after=0&token=$ca->{token}");
is($st, 401, "a WebSocket of $S2 refuses a default session token: 401");
my $ws_wrong = ChatWS->connect(port => $ng->port, path => "$A/agent/ws?token=$adm2->{json}{token}");
my $closed = $ws_wrong ? (do { $ws_wrong->next_message(3); $ws_wrong->{closed} }) : 4401;
is($closed, 4401, "an agent socket of the default site closes a token of $S2 (4401)");

# --- FAQ: each site's bot answers from its own ------------------------------------------

my $slug = "t40-gift-$run";
my $f = $ng->post("$B/admin/faq", headers => $BH,
               json => { slug => $slug, question => 'Do you wrap presents as gifts?',
                         answer => "Shop two wraps gifts ($run).", keywords => ['wrap', 'gift', 'presents'] });
is($f->{status}, 201, "the admin of $S2 adds an FAQ entry there");
ok(!(grep { $_->{slug} eq $slug } @{ $ng->get("$A/admin/faq", headers => $AH)->{json}{faq} }),
   'the default admin does not see it');
is($ng->patch("$A/admin/faq/$slug", headers => $AH, json => { answer => 'x' })->{status}, 404,
   "nor change it (404)");
is($ng->post("$A/admin/faq", headers => $AH,
             json => { slug => $slug, question => 'Q?', answer => 'A.' })->{status}, 201,
   'the same slug is free on another site');
ok(ChatTest::wait_until(sub {
       grep { $_->{slug} eq $slug } @{ $ng->get("$B/faq")->{json}{faq} // [] } }, 15),
   "GET /faq of $S2 lists it");
ok(!(grep { $_->{answer} && $_->{answer} =~ /Shop two/ } @{ $ng->get("$A/faq")->{json}{faq} }),
   'GET /faq of the default site does not show its answer');
my $bot = $ng->post("$B/messages", headers => bearer($cb->{token}),
                    json => { text => 'Do you wrap presents as gifts?', client_id => uuid() })->{json};
is($bot->{messages}[1]{content}, "Shop two wraps gifts ($run).", "the bot of $S2 answers from its FAQ");
$bot = $ng->post("$A/messages", headers => bearer($ca->{token}),
                 json => { text => 'Do you wrap presents as gifts?', client_id => uuid() })->{json};
isnt($bot->{messages}[1]{content}, "Shop two wraps gifts ($run).", 'the default bot never does');

# --- agents and admins see only their site ------------------------------------------------

my %list_a = map { $_->{username} => $_ } @{ $ng->get("$A/admin/agents", headers => $AH)->{json}{agents} };
my %list_b = map { $_->{username} => $_ } @{ $ng->get("$B/admin/agents", headers => $BH)->{json}{agents} };
ok($list_a{'john.doe'} && !$list_a{$boss2}, "the default admin lists the default agents, not ${S2}'s");
ok($list_b{$boss2} && !$list_b{'john.doe'} && !$list_b{admin}, "the admin of $S2 lists ${S2}'s only");
# and the colleagues any agent lists (GET /agent/agents, the transfer picker) are their site's
my %col_a = map { $_->{username} => 1 } @{ $ng->get("$A/agent/agents", headers => $AH)->{json}{agents} };
my %col_b = map { $_->{username} => 1 } @{ $ng->get("$B/agent/agents", headers => $BH)->{json}{agents} };
ok($col_a{'john.doe'} && !$col_a{$boss2}, "GET /agent/agents on the default site: its agents, not ${S2}'s");
ok($col_b{$boss2} && !$col_b{'john.doe'}, "... and on $S2 ${S2}'s only");
my $john = $list_a{'john.doe'}{id};
is($ng->patch("$B/admin/agents/$john", headers => $BH, json => { display_name => 'X' })->{status}, 404,
   "the admin of $S2 cannot change a default agent (404)");
is($ng->delete("$B/admin/agents/$john", headers => $BH)->{status}, 404, '... nor delete them');

# A new agent of an admin is granted the admin's site.
my $both = "t40.both.$run";
my $nb = $ng->post("$B/admin/agents", headers => $BH,
                   json => { username => $both, display_name => 'Both Sites', password => "Both-Pass-$run",
                             role => 'agent', max_active_chats => 3 });
is($nb->{status}, 201, "the admin of $S2 creates an agent");
is_deeply($nb->{json}{agent}{sites}, [$S2], 'granted that site');
my $both_id = $nb->{json}{agent}{id};

# PATCH sites: validated (422, naming the field); only sites the admin is granted change.
for my $bad ([], ['Bad!'], [''], 'x', [1], [map { "s$_" } 1 .. 101]) {
    my $r = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { sites => $bad });
    is($r->{status}, 422, 'PATCH sites refuses ' . (ref $bad ? '[' . join(',', @$bad[0 .. ($#$bad < 2 ? $#$bad : 2)]) . (@$bad > 3 ? ',...' : '') . ']' : $bad) . ': 422');
    like($r->{json}{error}{message} // '', qr/sites/, '... naming the field');
}
my $grant = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { sites => [$S2, 'default'] });
is($grant->{status}, 403, "the admin of $S2 cannot grant the default site they are not granted (403)");

# The operator grants the boss both sites; then the boss grants the agent both.
ChatTest::sql("UPDATE agents SET sites = '{default,$S2}' WHERE username = '$boss2'");
$grant = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { sites => [$S2, 'default'] });
is($grant->{status}, 200, 'an admin granted both sites grants both');
is_deeply([sort @{ $grant->{json}{agent}{sites} }], [sort 'default', $S2], 'the Agent lists both');
my $ba = login($A, $both, "Both-Pass-$run");
my $bb = login($B, $both, "Both-Pass-$run");
is($ba->{status}, 200, 'the agent granted both logs in on the default site');
is($bb->{status}, 200, "... and on $S2");
my ($BA, $BB) = (bearer($ba->{json}{token}), bearer($bb->{json}{token}));

# An admin of one site changes nothing of an agent that holds on another site of theirs:
# not the password (they would log in there as them), the role (make them its admin), the
# name or the capacity (403); only an admin granted every site of the agent does.
for my $f ([password => "Taken-Over-$run"], [role => 'admin'], [display_name => 'Renamed'],
           [max_active_chats => 0]) {
    my $r = $ng->patch("$A/admin/agents/$both_id", headers => $AH, json => { @$f });
    is($r->{status}, 403, "the default admin may not set the $f->[0] of an agent also granted $S2: 403");
    like($r->{json}{error}{message} // '', qr/sites you are not granted/, '... saying why');
}
is(login($B, $both, "Taken-Over-$run")->{status}, 401, "so they cannot log in on $S2 as that agent");
my $me_b = $ng->get("$B/agent/me", headers => $BB);
is($me_b->{status}, 200, "... the agent's token of $S2 still works");
is($me_b->{json}{agent}{role}, 'agent', '... still as a plain agent');
is_deeply([@{ $me_b->{json}{agent} }{qw(display_name max_active_chats)}], ['Both Sites', 3], '... name and capacity kept');
my $by_both = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { display_name => 'Both Sites' });
is($by_both->{status}, 200, 'the admin granted both sites may') or diag $by_both->{body};

# --- queues, conversations and events ---------------------------------------------------------

my $wa = ChatWS->connect(port => $ng->port, path => "$A/agent/ws", headers => $AH);
my $wb = ChatWS->connect(port => $ng->port, path => "$B/agent/ws", headers => $BH);
ok($wa && $wb, 'an admin of each site listens on their agent socket');
$wa->drain(0.5);
$wb->drain(0.5);

my $ea = $ng->post("$A/escalate", headers => bearer($ca->{token}), json => {});
my $eb = $ng->post("$B/escalate", headers => bearer($cb->{token}), json => {});
is($ea->{json}{conversation}{status}, 'agent', 'a default customer waits for an agent');
is($eb->{json}{conversation}{status}, 'agent', "a customer of $S2 waits for an agent");
is($eb->{json}{conversation}{queue_position}, 1, "first in ${S2}'s queue");
my ($conv_a, $conv_b) = ($ea->{json}{conversation}{id}, $eb->{json}{conversation}{id});

my @heard_a = $wa->drain(2);
my @heard_b = $wb->drain(1);
ok((grep { ($_->{conversation_id} // '') eq $conv_a } @heard_a), 'the default admin hears the default chat');
ok(!(grep { ($_->{conversation_id} // '') eq $conv_b } @heard_a), "... and nothing of ${S2}'s");
ok((grep { ($_->{conversation_id} // '') eq $conv_b } @heard_b), "the admin of $S2 hears ${S2}'s chat");
ok(!(grep { ($_->{conversation_id} // '') eq $conv_a } @heard_b), '... and nothing of the default one');

sub queue_ids { my ($base, $h) = @_; [map { $_->{id} } @{ $ng->get("$base/agent/conversations?view=queue", headers => $h)->{json}{conversations} }] }
sub all_ids   { my ($base, $h) = @_; [map { $_->{id} } @{ $ng->get("$base/agent/conversations?view=all&limit=100", headers => $h)->{json}{conversations} }] }
ok((grep { $_ eq $conv_a } @{ queue_ids($A, $AH) }) && !(grep { $_ eq $conv_b } @{ queue_ids($A, $AH) }),
   "the default queue holds the default chat, not ${S2}'s");
ok((grep { $_ eq $conv_b } @{ queue_ids($B, $BH) }) && !(grep { $_ eq $conv_a } @{ queue_ids($B, $BH) }),
   "${S2}'s queue holds its chat only");
ok(!(grep { $_ eq $conv_b } @{ all_ids($A, $AH) }), "the default admin's view all has nothing of $S2");
is($ng->get("$A/agent/conversations/$conv_b", headers => $AH)->{status}, 404,
   "a conversation id of $S2 answers 404 on the default site");
is($ng->post("$A/agent/conversations/$conv_b/claim", headers => $AH)->{status}, 404, '... to a claim too');
is($ng->post("$A/agent/conversations/$conv_b/messages", headers => $AH,
             json => { text => 'hi', client_id => uuid() })->{status}, 404, '... and to a message');
is($ng->get("$B/agent/conversations/$conv_a", headers => $BH)->{status}, 404,
   "a default conversation id answers 404 on $S2, even for an admin granted both");
is($ng->get("$B/agent/conversations/$conv_b", headers => $BH)->{status}, 200, '... its own: 200');

# The agent granted both sites sees each site's queue on that site.
ok((grep { $_ eq $conv_a } @{ queue_ids($A, $BA) }) && !(grep { $_ eq $conv_b } @{ queue_ids($A, $BA) }),
   'the agent granted both sees the default queue on the default site');
ok((grep { $_ eq $conv_b } @{ queue_ids($B, $BB) }) && !(grep { $_ eq $conv_a } @{ queue_ids($B, $BB) }),
   "... and ${S2}'s on $S2");

# Assignment serves each queue with agents of its site only: going online (on the default
# site) takes both chats, since this agent is granted both.
$wa->drain(0.2);
my $on = $ng->post("$A/agent/presence", headers => $BA, json => { presence => 'online' });
is($on->{status}, 200, 'the agent granted both comes online');
is(ChatTest::sql("SELECT count(*) FROM conversations WHERE id IN ('$conv_a', '$conv_b')
                   AND assigned_agent_id = '$both_id'"), 2, 'and is assigned the chat of each site');
my $mine_b = $ng->get("$B/agent/conversations?view=active", headers => $BB)->{json}{conversations};
is_deeply([map { $_->{id} } @$mine_b], [$conv_b], "their active view on $S2 shows ${S2}'s chat only");
$ng->post("$A/agent/presence", headers => $BA, json => { presence => 'offline' });

# A grant taken away acts at once: the token of that site stops working, and its socket closes.
my $wboth = ChatWS->connect(port => $ng->port, path => "$A/agent/ws", headers => $BA);
ok($wboth, 'the agent granted both listens on the default site');
$wboth->drain(0.5);
my $take = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { sites => [$S2] });
is($take->{status}, 200, 'the admin takes the default site away');
is($ng->get("$A/agent/me", headers => $BA)->{status}, 401, 'the agent token of that site gets 401 at once');
is($ng->get("$B/agent/me", headers => $BB)->{status}, 200, "the one of $S2 still works");
# the workers re-check standing on a timer: wait up to 10 s for the close (messages before it are skipped)
for (1 .. 10) { $wboth->next_message(1); last if $wboth->{closed}; }
is($wboth->{closed}, 4401, 'the socket on the site taken away is closed with 4401 within seconds');
$wboth->close;
my $holder = sub { ChatTest::sql("SELECT coalesce(assigned_agent_id::text, 'queued') FROM conversations WHERE id = '$_[0]'") };
is($holder->($conv_a), 'queued', "the chat they held on the site taken away is back in that site's queue");
ok((grep { $_ eq $conv_a } @{ queue_ids($A, $AH) }), '... the default queue shows it');
is($holder->($conv_b), $both_id, "their $S2 chat stays theirs");

# DELETE by the admin of one site, of an agent granted another too: they leave that site only.
my $regrant = $ng->patch("$B/admin/agents/$both_id", headers => $BH, json => { sites => [$S2, 'default'] });
is($regrant->{status}, 200, 'the default site granted again');
my $ba2 = login($A, $both, "Both-Pass-$run");
is($ba2->{status}, 200, '... they log in on the default site again');
is($ng->delete("$B/admin/agents/$both_id", headers => $BH)->{status}, 204, "the admin of $S2 deletes them");
is($ng->get("$B/agent/me", headers => $BB)->{status}, 401, "their $S2 token gets 401");
is($ng->get("$A/agent/me", headers => bearer($ba2->{json}{token}))->{status}, 200, '... their default one still works');
is($holder->($conv_b), 'queued', "their $S2 chat is back in ${S2}'s queue");
my ($left) = grep { $_->{id} eq $both_id } @{ $ng->get("$A/admin/agents", headers => $AH)->{json}{agents} };
is_deeply($left && $left->{sites}, ['default'], '... and the default admin still lists them, on the default site only');

# A presence change reaches the dashboards of the agent's own sites only.
{
    my $solo = "t40.solo.$run";
    my $c = $ng->post("$A/admin/agents", headers => $AH,
                      json => { username => $solo, display_name => 'Solo Default', password => "Solo-Pass-$run",
                                role => 'agent', max_active_chats => 0 });
    is($c->{status}, 201, 'a default-site agent is created');
    my $st = bearer(login($A, $solo, "Solo-Pass-$run")->{json}{token});
    $wa->drain(0.3);
    $wb->drain(0.3);
    is($ng->post("$A/agent/presence", headers => $st, json => { presence => 'online' })->{status}, 200,
       '... and comes online');
    my $about = sub { grep { $_->{type} eq 'agent.presence.changed' && $_->{data}{id} eq $c->{json}{agent}{id} } @_ };
    ok(scalar($about->($wa->drain(2))), 'the default dashboard hears their presence');
    ok(!scalar($about->($wb->drain(1))), "${S2}'s does not");
    $ng->post("$A/agent/presence", headers => $st, json => { presence => 'offline' });
}

# --- one site's FAQ never keeps another's from loading ---------------------------------------
# Every worker loads the FAQ of every site in one answer: each site's FAQ is bounded (its
# entries, and the bytes of their JSON: 409 past either, on create and on PATCH), so the admin
# of one site filling theirs never stops a change of another site's FAQ from reaching the bot.
{
    my @kw = map { sprintf('kw%03d', $_) . ('k' x 95) } 1 .. 100;
    my %big = (question => ('q' x 999) . '?', answer => 'a' x 10000, keywords => \@kw);
    my ($made, $refused) = (0, undef);
    for my $i (1 .. 80) {      # 80 of about 21 KB each: well past 1 MiB
        my $r = $ng->post("$B/admin/faq", headers => $BH, json => { slug => "t40-big-$run-$i", %big });
        if ($r->{status} != 201) { $refused = $r; last }
        $made++;
    }
    ok($made >= 40, "the admin of $S2 adds large FAQ entries ($made)");
    is($refused && $refused->{status}, 409, '... until the FAQ of the site is full: 409')
        or diag($refused ? $refused->{body} : 'never refused');
    like($refused && $refused->{json}{error}{message} // '', qr/FAQ/, '... saying why');
    my $after = "t40-after-$run";
    is($ng->post("$A/admin/faq", headers => $AH,
                 json => { slug => $after, question => 'Is the other shop full?', answer => 'Not ours.' })->{status},
       201, 'then the default admin adds an entry');
    ok(ChatTest::wait_until(sub { grep { $_->{slug} eq $after } @{ $ng->get("$A/faq")->{json}{faq} // [] } }, 15),
       "... and GET /faq of the default site lists it: ${S2}'s FAQ did not stop the load");
    is($ng->delete("$B/admin/faq/t40-big-$run-1", headers => $BH)->{status}, 204, "the admin of $S2 deletes one");
    is($ng->post("$B/admin/faq", headers => $BH,
                 json => { slug => "t40-small-$run", question => 'Small?', answer => 'Yes.' })->{status},
       201, '... then a small entry fits');
    # three bytes a character: three times a large entry's size, more than one deletion freed
    my $euro = "\x{20ac}";
    my %bigger = (question => $euro x 1000, answer => $euro x 10000,
                  keywords => [map { sprintf('%03d', $_) . ($euro x 97) } 1 .. 100]);
    is($ng->patch("$B/admin/faq/t40-small-$run", headers => $BH, json => \%bigger)->{status}, 409,
       '... but growing it past the budget with PATCH is 409');
    my ($small) = grep { $_->{slug} eq "t40-small-$run" } @{ $ng->get("$B/admin/faq", headers => $BH)->{json}{faq} };
    is($small && $small->{question}, 'Small?', '... and leaves it as it was');
    ChatTest::sql("DELETE FROM faq_entries WHERE slug LIKE 't40-%-$run%' OR slug = '$after'; SELECT chat_faq_bump()");
    # and the number of entries, however small: 500 (limits.h kFaqEntriesPerSite)
    ChatTest::sql("INSERT INTO faq_entries (site, slug, question, answer)
                   SELECT '$S2', 't40-n-$run-' || i, 'Q' || i || '?', 'A.' FROM generate_series(1, 499) i");
    is($ng->post("$B/admin/faq", headers => $BH,
                 json => { slug => "t40-n-$run-500", question => 'Q?', answer => 'A.' })->{status}, 201,
       'the 500th entry of a site: 201');
    is($ng->post("$B/admin/faq", headers => $BH,
                 json => { slug => "t40-n-$run-501", question => 'Q?', answer => 'A.' })->{status}, 409,
       'the 501st: 409');
    ChatTest::sql("DELETE FROM faq_entries WHERE slug LIKE 't40-n-$run-%'; SELECT chat_faq_bump()");
}

$wa->close;
$wb->close;
$ws_wrong->close if $ws_wrong;
ChatTest::sql("UPDATE conversations SET status = 'closed', closed_at = now(), assigned_agent_id = NULL
                WHERE id IN ('$conv_a', '$conv_b')");
ChatTest::sql("DELETE FROM faq_entries WHERE slug = '$slug'; SELECT chat_faq_bump()");
$ng->stop;
done_testing;
