using System.Text;
using Courier.Server;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>A server's side of batches (docs/protocol.md §7), seen from a raw DEALER socket.</summary>
public sealed class ServerBatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_batch_of_requests_is_served_and_answered_in_one_batch_with_errors_apart(bool inline)
    {
        await using var server = await TestServer.StartAsync(
            o => o with { RunHandlersInline = inline },
            s => s.Map("upper", (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>([Encoding.UTF8.GetBytes(request.BodyText.ToUpperInvariant())])));
        using var client = new DealerSocket();
        client.Options.Linger = TimeSpan.Zero;
        client.Connect(server.Endpoint!);

        var requests = Enumerable.Range(1, 16).Select(i => ((ulong)i, "upper", $"req {i}")).ToList();
        byte[] frame = [.. BatchFrames.Build(1, [.. requests, (100, "nosuch", "x"), (101, "bad\u0001name", "x"), (102, "mmi.courier", "courier/3")]), 9, 9];
        client.SendMoreFrameEmpty().SendFrame(frame);

        var seen = new Dictionary<ulong, (string Status, string Body)>();
        var batches = 0;
        var frames = new List<byte[]>();
        while (seen.Count < 19)
        {
            Assert.True(client.TryReceiveMultipartBytes(Wait, ref frames!), $"only {seen.Count} replies");
            Assert.Empty(frames[0]);
            if (BatchFrames.Is(frames[1], 2))
            {
                batches++;
                foreach (var reply in BatchFrames.Parse(frames[1]))
                {
                    seen.Add(reply.Id, (reply.Tag, reply.Body));
                }
            }
            else
            {
                Assert.Equal("CURC02", Encoding.ASCII.GetString(frames[1], 0, 6));
                seen.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[1].AsSpan(6)), (Encoding.ASCII.GetString(frames[1], 14, 3), Encoding.UTF8.GetString(frames[2])));
            }
        }

        Assert.All(requests, r => Assert.Equal(("200", r.Item3.ToUpperInvariant()), seen[r.Item1]));
        Assert.Equal(("404", "no service 'nosuch' here"), seen[100]);
        Assert.Equal("400", seen[101].Status);
        Assert.Equal(("200", "courier/3"), seen[102]);
        if (inline)
        {
            Assert.Equal(1, batches); // answered before the loop sent anything: one batch
        }

        await using var courier = TestServer.Client(server.Endpoint!);
        Assert.Equal("STILL", (await courier.RequestAsync("upper", "still")).BodyText);
    }

    [Theory]
    [InlineData(false, "courier/2")]
    [InlineData(true, "courier/3")]
    public async Task The_probe_is_answered_courier_3_only_when_it_offers_it(bool offer, string answer)
    {
        await using var server = await TestServer.StartAsync();
        await using var broker = await TestBroker.StartAsync();
        foreach (var endpoint in new[] { server.Endpoint!, broker.Endpoint! })
        {
            using var client = new DealerSocket();
            client.Options.Linger = TimeSpan.Zero;
            client.Connect(endpoint);
            var probe = new NetMQMessage();
            probe.AppendEmptyFrame();
            probe.Append("MDPC01");
            probe.Append("mmi.courier");
            if (offer)
            {
                probe.Append("courier/3");
            }

            client.SendMultipartMessage(probe);
            var frames = new List<string>();
            Assert.True(client.TryReceiveMultipartStrings(Wait, ref frames!), $"no answer from {endpoint}");
            Assert.Equal(["", "MDPC01", "mmi.courier", "200", answer], frames);
        }
    }
}
