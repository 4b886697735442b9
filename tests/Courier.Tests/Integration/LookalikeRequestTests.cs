using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>
/// A stock REQ or 7/MDP client's request whose body happens to look like one of Courier's own messages is answered, never
/// left waiting: a courier/5 CANCEL is never answered, so only a message that is one is read as one (protocol.md §8), and
/// a message read as a batch that serves no request is answered 400 as a stock request (§6).
/// </summary>
public sealed class LookalikeRequestTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    // "CURC05" + 0x03 + id + client: 31 bytes that a REQ client's last body frame may well be.
    private static readonly byte[] CancelShaped = CourierFrame5.CancelFrame(7, new ClientIdentity(1, 2));

    [Fact]
    public Task A_req_request_whose_body_ends_like_a_cancel_is_answered_by_a_server() => AtServerAsync(client =>
    {
        // A REQ socket's framing: the delimiter, then the body's three frames.
        client.SendMoreFrameEmpty().SendMoreFrame("x").SendMoreFrameEmpty().SendFrame(CancelShaped);

        var frames = AssertAnswered(client, "the request was taken for a CANCEL and never answered");
        Assert.Empty(frames[0]);
        Assert.Equal("x", Encoding.UTF8.GetString(frames[^3]));
        Assert.Empty(frames[^2]);
        Assert.Equal(CancelShaped, frames[^1]);
    });

    [Fact]
    public Task A_mdp_request_whose_body_ends_like_a_cancel_is_answered_through_a_broker() => AtBrokerAsync(client =>
    {
        client.SendMoreFrameEmpty().SendMoreFrame("MDPC01").SendMoreFrame("echo")
            .SendMoreFrame("x").SendMoreFrameEmpty().SendFrame(CancelShaped);

        var frames = AssertAnswered(client, "the request was taken for a CANCEL and never answered");
        Assert.Equal(["", "MDPC01", "echo"], frames.Take(3).Select(f => Encoding.UTF8.GetString(f)));
        Assert.Equal(CancelShaped, frames[^1]);
        Assert.Empty(frames[^2]);
    });

    [Theory]
    [InlineData("CURB03\u0001")]
    [InlineData("CURB03\u0001garbage")]
    [InlineData("CURB03\u0005short")]
    public Task A_req_request_read_as_a_batch_without_a_readable_record_is_answered_400_by_a_server(string body) => AtServerAsync(client =>
    {
        client.SendMoreFrameEmpty().SendFrame(Encoding.ASCII.GetBytes(body));

        AssertAnswered400(client, "no readable record");
    });

    [Fact]
    public Task A_req_request_read_as_a_batch_without_a_readable_record_is_answered_400_through_a_broker() => AtBrokerAsync(client =>
    {
        client.SendMoreFrameEmpty().SendFrame("CURB03\u0001garbage"u8.ToArray());

        AssertAnswered400(client, "no readable record");
    });

    /// <summary>Runs <paramref name="exchange"/> on a raw DEALER at an echo server, a canary asking beside it.</summary>
    private static async Task AtServerAsync(Action<DealerSocket> exchange)
    {
        await using var server = await TestServer.StartAsync(o => o with { DefaultService = "echo" });
        await RunAsync(server.Endpoint!, exchange);
    }

    /// <summary>Runs <paramref name="exchange"/> on a raw DEALER at a broker with an echo worker, a canary asking beside it.</summary>
    private static async Task AtBrokerAsync(Action<DealerSocket> exchange)
    {
        await using var broker = await TestBroker.StartAsync();
        await using var worker = await TestBroker.StartWorkerAsync(
            broker.Endpoint!, "w1", handler: (request, _) => ValueTask.FromResult(request.Frames));
        await RunAsync(broker.Endpoint!, exchange);
    }

    private static async Task RunAsync(string endpoint, Action<DealerSocket> exchange)
    {
        await using var canary = await Canary.StartAsync(endpoint);
        using (var client = TestDealer.Connect(endpoint))
        {
            exchange(client);
        }

        await canary.AssertUnharmedAsync();
    }

    /// <summary>The one answer to a request that must not be met with silence.</summary>
    private static List<byte[]> AssertAnswered(DealerSocket client, string silence)
    {
        var frames = new List<byte[]>();
        Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), silence);
        return frames;
    }

    /// <summary>The stock REQ answer to what cannot be served: the delimiter, the status, why.</summary>
    private static void AssertAnswered400(DealerSocket client, string why)
    {
        var frames = AssertAnswered(client, "the request was read as a batch and never answered");
        Assert.Equal(3, frames.Count);
        Assert.Empty(frames[0]);
        Assert.Equal("400", Encoding.ASCII.GetString(frames[1]));
        Assert.Contains(why, Encoding.UTF8.GetString(frames[2]), StringComparison.Ordinal);
    }
}
