# Webhooks over https:// and to host names (API.md "Webhooks (transactional outbox)", README
# chat_webhook_ca, SECURITY.md): a test CA made here with openssl, trusted through
# chat_webhook_ca; real TLS receivers (IO::Socket::SSL in forked children) on 127.0.0.1.
# https://localhost:PORT/ (resolved by the non-blocking resolver from /etc/hosts) and
# https://127.0.0.1:PORT/ (an IP SAN) arrive signed; a self-signed receiver and one whose
# certificate names another host get nothing and last_error names the verification failure;
# a name that does not resolve fails with "cannot resolve host"; with chat_webhook_private off,
# http://localhost:PORT/ is refused at delivery time ("address not allowed") after resolving;
# a chat_webhook_ca that is not a CA file stops nginx from starting.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use ChatTest;
use WebhookReceiver;
use JSON::PP ();
use IO::Socket::INET;
use IO::Socket::SSL;
use Digest::SHA qw(hmac_sha256_hex);
use POSIX ();
use File::Path qw(make_path);

my $JSON = JSON::PP->new->utf8->canonical;
my $run = sprintf('%d%d', $$, time % 100000);
my $C = '/chat/api/v1';
my $dir = ChatTest::var_dir() . "/t/52-tls-$run";
make_path($dir);

# --- a test CA, a server certificate for localhost (and 127.0.0.1) signed by it, one signed by
# it for another name, and a self-signed one for localhost ----------------------------------------
sub openssl {
    my $cmd = join ' ', 'openssl', @_;
    my $out = qx{$cmd 2>&1};
    die "openssl @_[0..1] failed: $out" if $?;
}
my $ec = '-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes';
openssl("req -x509 $ec -keyout $dir/ca.key -out $dir/ca.pem -days 2 -subj '/CN=t52 test CA $run'",
        "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign");
sub signed {
    my ($name, $san) = @_;
    openssl("req $ec -keyout $dir/$name.key -out $dir/$name.csr -subj '/CN=$name'");
    open my $ext, '>', "$dir/$name.ext" or die $!;
    print $ext "subjectAltName=$san\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n";
    close $ext;
    openssl("x509 -req -in $dir/$name.csr -CA $dir/ca.pem -CAkey $dir/ca.key -CAcreateserial",
            "-out $dir/$name.pem -days 2 -extfile $dir/$name.ext");
}
signed('good', 'DNS:localhost,IP:127.0.0.1');
signed('other', 'DNS:other.example');
openssl("req -x509 $ec -keyout $dir/self.key -out $dir/self.pem -days 2 -subj '/CN=localhost'",
        "-addext subjectAltName=DNS:localhost");

# --- receivers ------------------------------------------------------------------------------
# Each records every request it reads (after a TLS handshake that succeeded) as one JSON line
# and answers 204; a handshake the client gives up on records nothing.
sub receiver {
    my ($name, $cert) = @_;
    return WebhookReceiver::start(dir => $dir, name => $name, mode => 'ok', cert => $cert);
}
sub received { WebhookReceiver::received(@_) }

my $good = receiver('good', 'good');
my $self = receiver('self', 'self');
my $other = receiver('other', 'other');
my $plain = receiver('plain', undef);

# --- nginx with the test CA trusted -----------------------------------------------------------
my $ng = ChatTest::start_nginx(workers => 1,
    http => "chat_rate 1000r/s burst=1000;\n    chat_webhook_backoff 200ms;\n    chat_webhook_private on;\n"
          . "    chat_webhook_ca $dir/ca.pem;");
my $r = $ng->post("$C/agent/login", json => { username => 'admin', password => 'Admin@123' });
die "login: $r->{status}" unless $r->{status} == 200;
my $admin = ChatTest::bearer($r->{json}{token});
my $secret = "t52-secret-$run-abcdefgh";

sub hook {
    my ($url) = @_;
    my $h = $ng->post("$C/admin/webhooks", headers => $admin,
                      json => { url => $url, events => ['message.created'], secret => $secret });
    is($h->{status}, 201, "a webhook to $url is accepted (201)") or diag $h->{body};
    return $h->{json}{webhook}{id};
}
sub webhook {
    my ($id, $n) = @_;
    my ($w) = grep { $_->{id} eq $id } @{ ($n // $ng)->get("$C/admin/webhooks", headers => $admin)->{json}{webhooks} };
    return $w // {};
}
sub failed_with {
    my ($id, $re, $n) = @_;
    return ChatTest::wait_until(sub { (webhook($id, $n)->{last_error} // '') =~ $re }, 30);
}

my %id;
$id{good}   = hook("https://localhost:$good->{port}/hook/good?run=$run");
$id{ip}     = hook("https://127.0.0.1:$good->{port}/hook/ip?run=$run");
$id{self}   = hook("https://localhost:$self->{port}/hook/self?run=$run");
$id{other}  = hook("https://localhost:$other->{port}/hook/other?run=$run");
$id{nohost} = hook("http://nonexistent.invalid:$plain->{port}/hook/nohost?run=$run");

my $s = $ng->post("$C/session", json => {});
die "session: $s->{status}" unless $s->{status} == 200;
my $conv = $s->{json}{conversation}{id};
my $p = $ng->post("$C/messages", headers => ChatTest::bearer($s->{json}{token}), json => { text => "over tls $run" });
die "post: $p->{status}" unless $p->{status} == 201;

sub mine { [ grep { $_->{event} && ($_->{event}{data}{conversation_id} // '') eq $conv } @{ received($_[0]) } ] }
ok(ChatTest::wait_until(sub { (grep { $_->{line} =~ m{/hook/good} } @{ mine($good) }) >= 2 }, 30),
   'https://localhost:PORT/: the name resolves, the certificate from the trusted CA is verified, events arrive')
    or diag explain received($good), webhook($id{good});
my ($one) = grep { $_->{line} =~ m{/hook/good} && $_->{event}{data}{content} eq "over tls $run" } @{ mine($good) };
ok($one, '... the customer message among them');
is($one->{headers}{'x-chat-signature'}, 'sha256=' . hmac_sha256_hex($one->{body}, $secret), '... signed');
is($one->{headers}{host}, "localhost:$good->{port}", '... with the URL\'s host in Host');
ok(ChatTest::wait_until(sub { (grep { $_->{line} =~ m{/hook/ip} } @{ mine($good) }) >= 2 }, 30),
   'https://127.0.0.1:PORT/: the certificate\'s IP SAN is verified, events arrive');
ok(ChatTest::wait_until(sub { webhook($id{good})->{last_delivered_at} && !defined webhook($id{good})->{last_error} }, 30),
   '... last_delivered_at set, no last_error');

ok(failed_with($id{self}, qr/^TLS certificate verification failed: self.signed certificate/),
   'a self-signed receiver: last_error "TLS certificate verification failed: self-signed certificate"')
    or diag explain webhook($id{self});
ok(failed_with($id{other}, qr/^TLS certificate verification failed: hostname mismatch/),
   'a certificate for another name: last_error "TLS certificate verification failed: hostname mismatch"')
    or diag explain webhook($id{other});
is(scalar @{ received($self) } + scalar @{ received($other) }, 0, '... and neither got a single request');
ok(failed_with($id{nohost}, qr/^cannot resolve host nonexistent\.invalid/),
   'a name that does not resolve: last_error "cannot resolve host nonexistent.invalid: …"')
    or diag explain webhook($id{nohost});
ok(webhook($id{self})->{backlog} >= 1, 'failed deliveries stay in the backlog (retried with backoff)');

$ng->delete("$C/admin/webhooks/$id{$_}", headers => $admin) for keys %id;
$ng->stop;

# --- chat_webhook_private off: a name that resolves to loopback is refused at delivery --------
my $ng2 = ChatTest::start_nginx(workers => 1,
    http => "chat_rate 1000r/s burst=1000;\n    chat_webhook_backoff 200ms;\n    chat_webhook_private off;\n"
          . "    chat_webhook_ca $dir/ca.pem;");
$ng = $ng2;
my $lo = hook("http://localhost:$plain->{port}/hook/private?run=$run");
$s = $ng2->post("$C/session", json => {});
die "session: $s->{status}" unless $s->{status} == 200;
ok(failed_with($lo, qr/^address not allowed: localhost resolves to 127\.0\.0\.1/, $ng2),
   'chat_webhook_private off: http://localhost:PORT/ fails with "address not allowed: localhost resolves to 127.0.0.1 …"')
    or diag explain webhook($lo, $ng2);
is(scalar @{ received($plain) }, 0, '... and the receiver never got a request');
$ng2->delete("$C/admin/webhooks/$lo", headers => $admin);
$ng2->stop;

# --- a chat_webhook_ca that cannot be loaded stops nginx at start ------------------------------
open my $junk, '>', "$dir/junk.pem" or die $!;
print $junk "not a certificate\n";
close $junk;
my $started = eval { ChatTest::start_nginx(name => 't52-badca', workers => 1, http => "chat_webhook_ca $dir/junk.pem;") };
ok(!$started, 'chat_webhook_ca naming a file without certificates: nginx refuses the configuration');
$started->stop if $started;

WebhookReceiver::stop_all();
done_testing();
