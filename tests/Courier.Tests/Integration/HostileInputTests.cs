using System.Text;
using Courier.Protocol;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>A real `courier server` process, shared by the tests that throw bad input at it.</summary>
public sealed class ServerProcessFixture : IAsyncLifetime
{
    public ChildProcess Process { get; private set; } = null!;

    public string Endpoint { get; private set; } = "";

    public int Port => Ports.Of(Endpoint);

    public async Task InitializeAsync() => (Process, Endpoint) = await ChildProcess.StartServerAsync("--bind", "tcp://127.0.0.1:*", "--name", "hostile-target");

    public async Task DisposeAsync() => await Process.DisposeAsync();

    /// <summary>Asserts the process is alive and still answers a normal client.</summary>
    public async Task AssertStillServingAsync()
    {
        Assert.False(Process.HasExited, $"server died: exit {(Process.HasExited ? Process.ExitCode : 0)}\n{Process.Stderr}");
        await using var client = TestServer.Client(Endpoint);
        Assert.Equal("hostile-target", (await client.RequestAsync("whoami", "")).BodyText);
    }
}

public sealed class HostileInputTests(ServerProcessFixture server) : IClassFixture<ServerProcessFixture>
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Random_bytes_on_the_port_are_disconnected_and_the_server_keeps_serving()
    {
        var garbage = new byte[64 * 1024];
        new Random(42).NextBytes(garbage);

        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(server.Port, garbage, Wait), "garbage connection should be closed");
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Forged_ZMTP3_frame_header_claiming_2GiB_is_disconnected_and_the_server_keeps_serving()
    {
        byte[] payload = [.. RawZmtp.GreetingAndReady(), .. RawZmtp.LongFrameHeader(2L * 1024 * 1024 * 1024)];

        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(server.Port, payload, Wait), "the forged frame should cost the peer its connection");
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Forged_ZMTP1_frame_header_claiming_2GiB_is_disconnected_and_the_server_keeps_serving()
    {
        // Without an explicit MaxMsgSize this kills a NetMQ process outright ("Out of memory", exit 134).
        Assert.True(await RawZmtp.SendAndSeeIfClosedAsync(server.Port, RawZmtp.Zmtp10LongFrame(2L * 1024 * 1024 * 1024), Wait), "the forged frame should cost the peer its connection");
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Frame_over_the_size_limit_drops_that_connection_only()
    {
        using var dealer = new DealerSocket();
        dealer.Connect(server.Endpoint);
        dealer.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("echo").SendFrame(new byte[17 * 1024 * 1024]);

        Assert.False(dealer.TryReceiveFrameBytes(TimeSpan.FromSeconds(2), out _), "an oversized frame gets no reply");
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Courier_request_without_a_service_name_is_answered_400()
    {
        var reply = RoundTrip(["", "CURC02req-0001"]);

        Assert.Equal(["", "CURC02req-0001400"], reply.Take(2));
        Assert.Contains("service", reply[2], StringComparison.Ordinal);
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Mdp_request_with_an_unprintable_service_name_is_answered_400_in_the_body()
    {
        var reply = RoundTrip(["", "MDPC01", "bad\u0001name", "x"]);

        Assert.Equal(["", "MDPC01", "bad\u0001name", "400"], reply.Take(4));
        await server.AssertStillServingAsync();
    }

    [Fact]
    public async Task Mdp_request_for_an_unknown_service_is_answered_404_in_the_body()
    {
        var reply = RoundTrip(["", "MDPC01", "nosuch", "x"]);

        Assert.Equal(["", "MDPC01", "nosuch", "404"], reply.Take(4));
        Assert.Contains("nosuch", reply[4], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Message_without_a_delimiter_has_no_reply_address_and_is_dropped()
    {
        using var dealer = Connect();
        dealer.SendMoreFrame("no").SendFrame("delimiter");

        Assert.False(dealer.TryReceiveFrameBytes(TimeSpan.FromSeconds(1), out _));
        await server.AssertStillServingAsync();
    }

    [Fact]
    public void Courier_reply_carries_status_200_and_echoes_the_envelope()
    {
        var reply = RoundTrip(["hop-a", "hop-b", "", "CURC02req-0001echo", "one", "two"]);

        Assert.Equal(["hop-a", "hop-b", "", "CURC02req-0001200", "one", "two"], reply);
    }

    private DealerSocket Connect() => TestDealer.Connect(server.Endpoint);

    private List<string> RoundTrip(string[] frames)
    {
        using var dealer = Connect();
        var message = new NetMQMessage();
        foreach (var frame in frames)
        {
            message.Append(Encoding.UTF8.GetBytes(frame));
        }

        dealer.SendMultipartMessage(message);
        var reply = new List<byte[]>();
        Assert.True(dealer.TryReceiveMultipartBytes(Wait, ref reply!), "no reply");
        return reply.Select(f => Encoding.UTF8.GetString(f)).ToList();
    }
}
