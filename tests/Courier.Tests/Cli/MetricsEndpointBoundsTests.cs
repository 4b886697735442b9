using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Courier.Cli.Telemetry;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Cli;

/// <summary>
/// The metrics endpoint (<c>--metrics-port</c>) attacked as any peer that reaches it could: many connections that send a
/// byte and then nothing, headers trickled in, headers without end. A <c>courier server</c> process keeps its
/// descriptors bounded, closes what it refuses, and its canary client (over ZeroMQ) sees no error.
/// </summary>
public sealed partial class MetricsEndpointBoundsTests
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };

    [Fact]
    public async Task Connections_past_the_metrics_limit_are_closed_at_once_and_silent_ones_after_the_idle_timeout()
    {
        const int attackers = 200;
        var (server, endpoint, metrics) = await StartServerAsync();
        await using (server)
        {
            await using var canary = await Canary.StartAsync(endpoint);
            var before = OpenDescriptors(server.Id);
            var sockets = new List<Socket>();
            var closed = new List<Task<bool>>();
            try
            {
                for (var i = 0; i < attackers; i++)
                {
                    // From as many addresses as it takes to pass the limit within each address's share.
                    var socket = From(10 + (i / MetricsEndpoint.MaxConnectionsPerAddress));
                    sockets.Add(socket);
                    await socket.ConnectAsync("127.0.0.1", metrics.Port);
                    await socket.SendAsync("G"u8.ToArray());
                    closed.Add(ClosedByPeerAsync(socket));
                }

                // Past the limit a connection is accepted and closed at once: while the attacker keeps all of its
                // sockets open, the server holds descriptors for the limit's worth only.
                await Poll.UntilAsync(
                    () => closed.Count(t => t.IsCompleted) >= attackers - MetricsEndpoint.MaxConnections,
                    TimeSpan.FromSeconds(30),
                    $"{attackers - MetricsEndpoint.MaxConnections} connections past the limit closed");
                var held = 0;
                await Poll.UntilAsync(
                    () => (held = OpenDescriptors(server.Id)) <= before + MetricsEndpoint.MaxConnections + 8,
                    TimeSpan.FromSeconds(10),
                    $"the server holds at most {MetricsEndpoint.MaxConnections} descriptors more than before the attack");
                Assert.True(held <= before + MetricsEndpoint.MaxConnections + 8, $"{held} held, {before} before");

                // The ones taken sent a byte and nothing more: closed when their headers are late, or as idle.
                await Poll.UntilAsync(() => closed.All(t => t.IsCompleted), MetricsEndpoint.IdleTimeout * 6, "every silent connection closed");
                Assert.All(closed, t => Assert.True(t.Result, "a connection ended otherwise than by the server closing it"));
            }
            finally
            {
                foreach (var socket in sockets)
                {
                    socket.Dispose();
                }
            }

            // Served again, and the refusals counted (they are not logged).
            var text = await Http.GetStringAsync(metrics);
            var rejected = RejectedLine().Match(text);
            Assert.True(rejected.Success, "kestrel_rejected_connections_total is not in the scrape");
            Assert.True(double.Parse(rejected.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) >= attackers - MetricsEndpoint.MaxConnections, rejected.Value);
            await canary.AssertUnharmedAsync();
            Assert.False(server.HasExited);
        }
    }

    [Fact]
    public async Task One_address_holds_at_most_its_share_of_the_connections_and_a_scraper_from_another_is_answered()
    {
        // One peer holding every connection the endpoint takes (each kept alive by a request now and then) shut the
        // scrapers out for as long as it liked.
        var (server, endpoint, metrics) = await StartServerAsync();
        await using (server)
        {
            await using var canary = await Canary.StartAsync(endpoint);
            var sockets = new List<Socket>();
            var closed = new List<Task<bool>>();
            try
            {
                for (var i = 0; i < MetricsEndpoint.MaxConnections; i++)
                {
                    var socket = From(2);
                    sockets.Add(socket);
                    await socket.ConnectAsync("127.0.0.1", metrics.Port);
                    await socket.SendAsync("G"u8.ToArray());
                    closed.Add(ClosedByPeerAsync(socket));
                }

                // While that address holds its share (its silent connections are closed only at the header timeout,
                // 10 s), a scraper from another is answered.
                var answer = await ScrapeFromAsync(3, metrics);
                Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
                Assert.Contains("# TYPE", answer, StringComparison.Ordinal);

                // Those past its share were closed at once, the rest by the header timeout; then the address has its
                // share again (what it held was given back, not leaked).
                await Poll.UntilAsync(() => closed.All(t => t.IsCompleted), MetricsEndpoint.HeadersTimeout * 6, "every silent connection closed");
                Assert.StartsWith("HTTP/1.1 200", await ScrapeFromAsync(2, metrics), StringComparison.Ordinal);
            }
            finally
            {
                foreach (var socket in sockets)
                {
                    socket.Dispose();
                }
            }

            await canary.AssertUnharmedAsync();
        }
    }

    [Fact]
    public async Task Headers_trickled_in_are_cut_off_by_the_header_timeout()
    {
        var (server, endpoint, metrics) = await StartServerAsync();
        await using (server)
        {
            await using var canary = await Canary.StartAsync(endpoint);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", metrics.Port);
            var closed = ClosedByPeerAsync(socket);
            await socket.SendAsync(Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: "));

            // One header's value, a byte at a time: no new header (their count has a limit too), far within the size
            // limit in the time allowed: only the header timeout ends it.
            var sent = 0;
            var deadline = DateTime.UtcNow + (MetricsEndpoint.HeadersTimeout * 6);
            while (!closed.IsCompleted && DateTime.UtcNow < deadline)
            {
                try
                {
                    sent += await socket.SendAsync("a"u8.ToArray());
                }
                catch (SocketException)
                {
                    break;
                }

                await Task.Delay(100);
            }

            Assert.True(closed.IsCompleted || await closed.WaitAsync(TimeSpan.FromSeconds(10)), $"still open after {sent} bytes of a header");
            Assert.True(sent < MetricsEndpoint.MaxHeaderBytes / 8, $"{sent} bytes of a header taken");
            await canary.AssertUnharmedAsync();
        }
    }

    [Fact]
    public async Task A_header_past_the_size_limit_is_refused_with_431_and_the_connection_closed()
    {
        var (server, endpoint, metrics) = await StartServerAsync();
        await using (server)
        {
            await using var canary = await Canary.StartAsync(endpoint);
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync("127.0.0.1", metrics.Port);

            // One header of twice the limit, which the socket buffers take whole: the server reads past its limit and answers.
            await socket.SendAsync(Encoding.ASCII.GetBytes($"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Large: {new string('a', 2 * MetricsEndpoint.MaxHeaderBytes)}\r\n"));

            var answer = await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(30));
            Assert.StartsWith("HTTP/1.1 431", answer, StringComparison.Ordinal);
            await canary.AssertUnharmedAsync();
        }
    }

    [Fact]
    public async Task A_scraper_that_never_reads_its_answers_delays_no_other_scrape()
    {
        var (server, _, metrics) = await StartServerAsync();
        await using (server)
        {
            // Scrapes pipelined on one connection that reads nothing (a small receive buffer): an answer the exporter
            // wrote straight to it would block while holding the collection that every other scrape waits for.
            using var reader = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 1024 };
            await reader.ConnectAsync("127.0.0.1", metrics.Port);
            var request = Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
            // Enough answers (7 KB each) to fill what the kernel buffers for the connection (a few MB on loopback).
            for (var i = 0; i < 2000; i++)
            {
                await reader.SendAsync(request);
            }

            // Later scrapes, each past the exporter's cache of an answer (300 ms), are answered in full.
            for (var i = 0; i < 5; i++)
            {
                await Task.Delay(400); // what is tested: a fresh collection each time, not the cached answer
                Assert.Contains("# TYPE", await Http.GetStringAsync(metrics), StringComparison.Ordinal);
            }

            Assert.False(server.HasExited);
        }
    }

    private static async Task<(ChildProcess Server, string Endpoint, Uri Metrics)> StartServerAsync()
    {
        var (server, endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--metrics-port", "*", "--metrics-host", "127.0.0.1");
        await server.WaitForOutputAsync("metrics on http://");
        return (server, endpoint, new Uri(MetricsLine().Match(server.Stdout).Groups[1].Value));
    }

    /// <summary>True once the server closed (or reset) the connection; whatever it sent first is read and dropped.</summary>
    private static async Task<bool> ClosedByPeerAsync(Socket socket)
    {
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
    }

    private static async Task<string> ReadUntilClosedAsync(Socket socket, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new MemoryStream();
        var buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await socket.ReceiveAsync(buffer, SocketFlags.None, cts.Token)) > 0)
            {
                received.Write(buffer, 0, n);
            }
        }
        catch (SocketException)
        {
            // A reset after the answer: what came before it counts.
        }

        return Encoding.ASCII.GetString(received.ToArray());
    }

    /// <summary>One scrape on a connection of its own from 127.0.0.<paramref name="host"/>: what came back before it closed.</summary>
    private static async Task<string> ScrapeFromAsync(int host, Uri metrics)
    {
        using var socket = From(host);
        await socket.ConnectAsync("127.0.0.1", metrics.Port);
        await socket.SendAsync(Encoding.ASCII.GetBytes("GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        return await ReadUntilClosedAsync(socket, TimeSpan.FromSeconds(30));
    }

    /// <summary>A TCP socket whose connections come from 127.0.0.<paramref name="host"/> (all of 127/8 is this host's).</summary>
    private static Socket From(int host)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new System.Net.IPEndPoint(System.Net.IPAddress.Parse($"127.0.0.{host}"), 0));
        return socket;
    }

    private static int OpenDescriptors(int pid)
    {
        try
        {
            return Directory.GetFiles($"/proc/{pid}/fd").Length;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    [GeneratedRegex(@"metrics on (http://\S+)")]
    private static partial Regex MetricsLine();

    [GeneratedRegex(@"^kestrel_rejected_connections_total\{[^}]*\} (\S+)", RegexOptions.Multiline)]
    private static partial Regex RejectedLine();
}
