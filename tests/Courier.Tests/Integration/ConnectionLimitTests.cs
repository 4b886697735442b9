using System.Net.Sockets;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using Courier.Transport.Internal;

namespace Courier.Tests.Integration;

/// <summary>
/// Connections cost file descriptors: a listener holds at most MaxConnections (and never more than three quarters of the
/// process's descriptor limit), so that opening connections cannot take a server to its limit, where libzmq's I/O
/// thread spun on accept(2) and the runtime aborted ("Out of memory.") after ~1,036 connections under ulimit -n 1024.
/// Idle and half-greeted connections are closed after the handshake timeout.
/// </summary>
public sealed class ConnectionLimitTests
{
    private static bool Managed => TransportResolver.AutoMeans == TransportImplementation.Managed;

    [SkippableFact]
    public async Task A_server_under_a_low_descriptor_limit_keeps_serving_refuses_connections_past_its_limit_and_recovers()
    {
        Skip.If(Managed, "NetMQ reports no accepted connections to count (docs/security.md, Limits)");
        // bash's ulimit sets the soft and the hard limit: the server cannot raise it, and holds at most 3/4 of it (384).
        await using var server = ChildProcess.StartProgram("bash", "-c",
            $"ulimit -n 512; exec dotnet {ChildProcess.CliDll} server --bind tcp://127.0.0.1:* --name limited --transport Native");
        var endpoint = await server.WaitForEndpointAsync();
        var port = Ports.Of(endpoint);
        await using var canary = await Canary.StartAsync(endpoint);

        var attackers = new List<TcpClient>();
        try
        {
            // More connections than the descriptors the server has: each the kernel completes, the server accepts or ends.
            for (var i = 0; i < 700; i++)
            {
                var attacker = new TcpClient();
                attackers.Add(attacker);
                await attacker.ConnectAsync("127.0.0.1", port);
            }

            await Poll.UntilAsync(() => server.HasExited || server.Stderr.Contains("limit of 384 connections", StringComparison.Ordinal) || server.Stdout.Contains("limit of 384 connections", StringComparison.Ordinal),
                TimeSpan.FromSeconds(60), "the server refuses connections past its limit");
            Assert.False(server.HasExited, $"the server died: {server.Stderr}");
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

    [SkippableTheory]
    [InlineData(0)]
    [InlineData(5)]
    public async Task A_connection_that_does_not_finish_its_greeting_is_closed_after_the_handshake_timeout(int greetingBytes)
    {
        Skip.If(Managed, "NetMQ has no handshake timeout: MaxConnections bounds idle connections there (docs/security.md, Limits)");
        var transport = TransportOptions.Default with { HandshakeTimeout = TimeSpan.FromSeconds(1) };
        await using var server = await TestServer.StartAsync(o => o with { Transport = transport });
        await using var canary = await Canary.StartAsync(server.Endpoint!);

        // Nothing, or the first bytes of a greeting; then silence.
        var payload = RawZmtp.GreetingAndReady()[..greetingBytes];
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(Ports.Of(server.Endpoint!), payload, TimeSpan.FromSeconds(30)), "the silent connection is closed");
        await canary.AssertUnharmedAsync();
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
