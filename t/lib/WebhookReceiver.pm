package WebhookReceiver;
# Webhook receivers for t/ files: each is a forked Perl server on 127.0.0.1 that records every
# request it reads as one JSON line (arrival time, request line, headers, body, the status it
# answered) in its file.
#   mode 'ok'      answers 204;
#   mode 'fail N'  answers 500 to the first N requests, then 204;
#   mode 'hang'    reads and records, never answers (holds the connection).
#   cert NAME      TLS with DIR/NAME.pem and DIR/NAME.key (IO::Socket::SSL); a handshake the
#                  client gives up on records nothing.
use strict;
use warnings;
use IO::Socket::INET;
use JSON::PP ();
use POSIX ();
use Time::HiRes ();

my $JSON = JSON::PP->new->utf8->canonical;
my @children;

# start(dir => DIR, name => NAME, mode => 'ok', cert => undef) -> {name, file, port}
sub start {
    my (%o) = @_;
    my ($dir, $name, $mode, $cert) = @o{qw(dir name mode cert)};
    $mode //= 'ok';
    require IO::Socket::SSL if $cert;
    my $srv = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0, Proto => 'tcp',
                                    Listen => 64, ReuseAddr => 1) or die "listen: $!";
    my $file = "$dir/$name.jsonl";
    open my $touch, '>', $file or die $!;
    close $touch;
    my $pid = fork // die "fork: $!";
    if ($pid) {
        push @children, $pid;
        my $port = $srv->sockport;
        close $srv;
        return { name => $name, file => $file, port => $port };
    }
    my $failures = $mode =~ /^fail (\d+)/ ? $1 : 0;
    my @held;
    while (my $c = $srv->accept) {
        if ($cert) {
            IO::Socket::SSL->start_SSL($c, SSL_server => 1, SSL_cert_file => "$dir/$cert.pem",
                                       SSL_key_file => "$dir/$cert.key", Timeout => 5) or do { close $c; next };
        }
        my $head = '';
        while ($head !~ /\r\n\r\n/) {
            my $n = sysread($c, my $buf, 4096);
            last unless $n;
            $head .= $buf;
        }
        my ($h, $body) = split /\r\n\r\n/, $head, 2;
        $body //= '';
        next unless defined $h && length $h;
        my ($len) = $h =~ /^content-length:\s*(\d+)/mi;
        while (defined $len && length($body) < $len) {
            my $n = sysread($c, my $buf, $len - length $body);
            last unless $n;
            $body .= $buf;
        }
        my %hdr = map { /^([^:]+):\s*(.*)$/ ? (lc $1 => $2) : () } split /\r\n/, $h;
        my ($line) = split /\r\n/, $h;
        my $status = $mode eq 'hang' ? 0 : $failures-- > 0 ? 500 : 204;
        open my $out, '>>', $file or die $!;
        print $out $JSON->encode({ t => Time::HiRes::time(), line => $line, headers => \%hdr, body => $body,
                                   status => $status }), "\n";
        close $out;
        if (!$status) {
            push @held, $c;    # never answered
            next;
        }
        syswrite($c, "HTTP/1.1 $status " . ($status == 204 ? 'No Content' : 'Oops') . "\r\nConnection: close\r\n\r\n");
        $cert ? $c->close(SSL_fast_shutdown => 1) : close $c;
    }
    POSIX::_exit(0);
}

# the requests a receiver recorded, decoded (the body as JSON in ->{event})
sub received {
    my ($r) = @_;
    open my $fh, '<', $r->{file} or return [];
    my @out;
    while (my $l = <$fh>) {
        my $x = eval { $JSON->decode($l) } or next;
        $x->{event} = eval { $JSON->decode($x->{body}) };
        push @out, $x;
    }
    return \@out;
}

# stops every receiver this process started
sub stop_all {
    kill 'TERM', @children;
    waitpid($_, 0) for @children;
    @children = ();
}

1;
