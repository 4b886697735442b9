using System.Net.Sockets;
using System.Text.RegularExpressions;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>
/// Connections cost file descriptors: a listener holds at most MaxConnections (and never more than three quarters of the
/// descriptors the process has left), so that opening connections cannot take a server to its limit, where libzmq's I/O
/// thread spun on accept(2) and the runtime aborted ("Out of memory.") after ~1,036 connections under ulimit -n 1024,
/// and NetMQ's I/O thread died of a NullReferenceException. Idle and half-greeted connections are closed after the
/// handshake timeout, on both transports.
/// </summary>
public sealed class ConnectionLimitTests
{
    [Fact]
    public async Task A_server_under_a_low_descriptor_limit_keeps_serving_refuses_connections_past_its_limit_and_recovers()
    {
        // bash's ulimit sets the soft and the hard limit: the server cannot raise it, and holds at most 3/4 of what it has left.
        await using var server = ChildProcess.StartProgram("bash", "-c",
            $"ulimit -n 512; exec dotnet {ChildProcess.CliDll} server --bind tcp://127.0.0.1:* --name limited --transport {TransportResolver.AutoMeans}");
        var endpoint = await server.WaitForEndpointAsync();
        var port = Ports.Of(endpoint);
        await using var canary = await Canary.StartAsync(endpoint);

        var attackers = new List<TcpClient>();
        try
        {
            // More connections than the descriptors the server has: each the kernel completes, the server accepts or ends.
            // Each greets, so that the handshake timeout frees no place at the limit however long this takes.
            var greeting = RawZmtp.GreetingAndReady();
            for (var i = 0; i < 700; i++)
            {
                if (TestTransport.IsManaged)
                {
                    // NetMQ closes a refused connection on its own thread, some time after it is ended. A burst that takes
                    // the process to its descriptor limit kills it: AsyncIO reports an accept(2) that fails at once
                    // (EMFILE) as a success with no socket, and NetMQ's I/O thread dies of a NullReferenceException that
                    // no code outside can catch (docs/guide.md, Limits against hostile peers). The managed transport is
                    // attacked no faster than it closes what it refuses.
                    await Poll.UntilAsync(() => server.HasExited || OpenDescriptors(server.Id) < 448,
                        TimeSpan.FromSeconds(30), "the server closes the connections it refused");
                }

                var attacker = new TcpClient();
                attackers.Add(attacker);
                try
                {
                    await attacker.ConnectAsync("127.0.0.1", port);
                    await attacker.GetStream().WriteAsync(greeting);
                }
                catch (Exception ex) when (ex is IOException or SocketException)
                {
                    // Ended at once, past the limit: a connection shut down before the client saw its handshake finish
                    // fails its connect (EPIPE). A server that died instead fails the checks below.
                }
            }

            var refused = new Regex(@"limit of (\d+) connections");
            await Poll.UntilAsync(() => server.HasExited || refused.IsMatch(server.Stderr + server.Stdout),
                TimeSpan.FromSeconds(60), "the server refuses connections past its limit");
            Assert.False(server.HasExited, $"the server died: {server.Stderr}");
            // Three quarters (managed: half) of what the process had left under 512; a server starts with 100–140 open.
            var limit = int.Parse(refused.Match(server.Stderr + server.Stdout).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(limit, 100, 384);
            Assert.True(OpenDescriptors(server.Id) < 512, "the server stays below its descriptor limit");

            // Past the limit a new connection is ended at once.
            Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(port, RawZmtp.GreetingAndReady(), TimeSpan.FromSeconds(30)), "a connection past the limit is closed");
            await canary.AssertUnharmedAsync();
        }
        finally
        {
            foreach (var attacker in attackers)
            {
                attacker.Dispose();
            }
        }

        // The attackers gone, new clients are served again.
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(30), Retries = 0 });
        Assert.Equal("limited", (await client.RequestAsync("whoami", "")).BodyText);
        Assert.False(server.HasExited, $"the server died: {server.Stderr}");
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(90)] // a whole greeting and 26 bytes of a READY: one short of the smallest (a REQ's, 27)
    public async Task A_connection_that_does_not_finish_its_greeting_is_closed_after_the_handshake_timeout(int greetingBytes)
    {
        var transport = TransportOptions.Default with { HandshakeTimeout = TimeSpan.FromSeconds(1) };
        await using var server = await TestServer.StartAsync(o => o with { Transport = transport });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        // Nothing, or the first bytes of a greeting; then silence.
        var payload = RawZmtp.GreetingAndReady()[..greetingBytes];
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(Ports.Of(server.Endpoint!), payload, TimeSpan.FromSeconds(30)), "the silent connection is closed");
        await canary.AssertUnharmedAsync();
    }

    [Fact]
    public async Task A_greeted_connection_that_then_stays_silent_is_not_closed_by_the_handshake_timeout()
    {
        var transport = TransportOptions.Default with { HandshakeTimeout = TimeSpan.FromSeconds(1) };
        await using var server = await TestServer.StartAsync(o => o with { Transport = transport });

        // Three handshake timeouts: what the managed transport's check (bytes received) must not mistake for an idle peer.
        // A REQ's READY is the smallest there is: 91 bytes with the greeting, the check's very threshold.
        var greeted = RawZmtp.GreetingAndReady(socketType: "REQ");
        Assert.Equal(91, greeted.Length);
        Assert.False(await RawZmtp.SendAndSeeIfClosedAsync(Ports.Of(server.Endpoint!), greeted, TimeSpan.FromSeconds(3)),
            "a connection that finished its handshake was closed");
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
}
