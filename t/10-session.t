# Customer sessions (API.md "Customer endpoints"): a new session gets a signed
# token, a bot greeting at seq 1 and the FAQ; a valid token restores the same
# conversation through any worker; forged tokens start over.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;

my $ng = ChatTest::start_nginx(workers => 3);

my $r = $ng->post('/chat/api/v1/session', json => {
    context => { product_id => 'sku-1', product_name => 'Blue Mug',
                 page_url => 'http://shop.test/p/sku-1' } });
is($r->{status}, 200, 'a new session answers 200');
my $s = $r->{json};
ok($s->{token} && length $s->{token} > 20, 'the answer carries a token');
is($s->{conversation}{status}, 'automated', 'a new conversation is automated');
is($s->{conversation}{context}{product_id}, 'sku-1', 'the context is stored');
is(scalar @{ $s->{messages} }, 1, 'a new conversation has one message');
is($s->{messages}[0]{seq}, 1, 'the greeting has seq 1');
is($s->{messages}[0]{sender_type}, 'bot', 'the greeting is from the bot');
ok(@{ $s->{faq} } >= 12, 'the FAQ comes with the session');
my @orders = map { $_->{display_order} } @{ $s->{faq} };
is_deeply(\@orders, [ sort { $a <=> $b } @orders ], 'the FAQ is ordered by display_order');
like($s->{conversation}{created_at}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/,
     'timestamps are RFC 3339 UTC with milliseconds');

my $cookie = $r->{headers}{'set-cookie'} // '';
like($cookie, qr/^chat_session=[^;]+/, 'the token is set as the chat_session cookie');
like($cookie, qr/HttpOnly/i, 'the cookie is HttpOnly');
like($cookie, qr/SameSite=Lax/i, 'the cookie is SameSite=Lax');
like($cookie, qr/Path=\/chat/, 'the cookie is scoped to /chat');
unlike($cookie, qr/Secure/, 'the cookie is not Secure over plain http');

# refresh resilience: same conversation, through every worker, by bearer and by cookie
my $auth = { Authorization => "Bearer $s->{token}" };
my %seen;
for (1 .. 9) {
    my $again = $ng->post('/chat/api/v1/session', json => {}, headers => $auth);
    is($again->{status}, 200, "restoring the session answers 200 (try $_)");
    $seen{ $again->{json}{conversation}{id} }++;
    is(scalar @{ $again->{json}{messages} }, 1, 'the history comes back');
}
is_deeply([ keys %seen ], [ $s->{conversation}{id} ], 'every worker restores the same conversation');

my ($tok) = $cookie =~ /^chat_session=([^;]+)/;
my $by_cookie = $ng->post('/chat/api/v1/session', json => {},
                          headers => { Cookie => "chat_session=$tok" });
is($by_cookie->{json}{conversation}{id}, $s->{conversation}{id}, 'the cookie restores it too');

# context given later updates it
my $upd = $ng->post('/chat/api/v1/session', headers => $auth,
                    json => { context => { product_id => 'sku-2' } });
is($upd->{json}{conversation}{id}, $s->{conversation}{id}, 'new context keeps the conversation');
is($upd->{json}{conversation}{context}{product_id}, 'sku-2', 'new context replaces the old field');
is($upd->{json}{conversation}{context}{product_name}, 'Blue Mug', 'other context fields stay');

# forged or garbage tokens start a new conversation; they never reveal another
(my $forged = $s->{token}) =~ s/.$/$& eq 'A' ? 'B' : 'A'/e;
my $new = $ng->post('/chat/api/v1/session', json => {},
                    headers => { Authorization => "Bearer $forged" });
is($new->{status}, 200, 'a forged token still gets a session');
isnt($new->{json}{conversation}{id}, $s->{conversation}{id}, 'but a new conversation');

my $bad = $ng->get('/chat/api/v1/conversation', headers => { Authorization => "Bearer $forged" });
is($bad->{status}, 401, 'a forged token is 401 on reads');
is($bad->{json}{error}{code}, 'unauthorized', 'with code unauthorized');
is($ng->get('/chat/api/v1/conversation')->{status}, 401, 'no token is 401');

# which credentials a read takes: a Bearer token wins over a cookie, whatever the cookie
# holds; the cookie counts only when no Bearer token came
my $other = $ng->post('/chat/api/v1/session', json => {})->{json};
my $both = $ng->get('/chat/api/v1/conversation?after=0',
                    headers => { %$auth, Cookie => "chat_session=$other->{token}" });
is($both->{status}, 200, 'a Bearer token and a cookie: 200');
is($both->{json}{conversation}{id}, $s->{conversation}{id}, "the Bearer token's conversation is read");
my $forged_bearer = $ng->get('/chat/api/v1/conversation?after=0',
                             headers => { Authorization => "Bearer $forged",
                                          Cookie => "chat_session=$other->{token}" });
is($forged_bearer->{status}, 401, 'a forged Bearer token is 401 even beside a valid cookie');
my $basic = $ng->get('/chat/api/v1/conversation?after=0',
                     headers => { Authorization => 'Basic dXNlcjpwYXNz',
                                  Cookie => "chat_session=$other->{token}" });
is($basic->{status}, 200, 'an Authorization that is no Bearer token leaves the cookie');
is($basic->{json}{conversation}{id}, $other->{conversation}{id}, "and the cookie's conversation is read");

# bad bodies
my $bj = $ng->post('/chat/api/v1/session', body => '{"context":', headers => { 'Content-Type' => 'application/json' });
is($bj->{status}, 400, 'broken JSON is 400');
is($bj->{json}{error}{code}, 'invalid_json', 'with code invalid_json');
my $bc = $ng->post('/chat/api/v1/session', json => { context => 'nope' });
is($bc->{status}, 422, 'a context that is not an object is 422');
# a NUL in a context field ("\u0000") cannot be stored (jsonb refuses it): 422, never a 500
for my $who ([ 'a new session', {} ], [ 'a valid token', $auth ]) {
    my $nul = $ng->post('/chat/api/v1/session', headers => $who->[1],
                        json => { context => { page_url => "http://shop.test/\0x" } });
    is($nul->{status}, 422, "$who->[0] with a NUL in context.page_url is 422");
    is($nul->{json}{error}{code}, 'validation', '  with code validation');
}
is($ng->get('/chat/api/v1/session')->{status}, 405, 'GET /session is 405');

# the FAQ endpoint
my $faq = $ng->get('/chat/api/v1/faq');
is($faq->{status}, 200, 'GET /faq answers 200');
is(scalar @{ $faq->{json}{faq} }, scalar @{ $s->{faq} }, 'it lists the same entries');
ok(!exists $faq->{json}{faq}[0]{keywords}, 'without the matcher keywords');

$ng->stop;
done_testing;
