using System.Net;
using System.Net.Sockets;
using Courier.Tests.Infrastructure;

namespace Courier.Tests.Integration;

/// <summary>The test diagnostic that tells a transport that stopped reading a peer (Ports.QueuesBetween) reads what it claims.</summary>
public sealed class KernelQueuesTests
{
    [Fact]
    public async Task Bytes_written_to_a_peer_that_does_not_read_show_in_its_receive_queue()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var writer = new TcpClient();
        await writer.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        using var reader = await listener.AcceptTcpClientAsync();
        var readerPort = ((IPEndPoint)reader.Client.LocalEndPoint!).Port;
        var writerPort = ((IPEndPoint)writer.Client.LocalEndPoint!).Port;

        await writer.GetStream().WriteAsync(new byte[5000]);
        await Poll.UntilAsync(
            () => Ports.QueuesBetween(readerPort, writerPort).Any(q => q.Local == readerPort && q.Receive == 5000),
            what: "5000 bytes unread on the reader's side");

        var sides = Ports.QueuesBetween(readerPort, writerPort);
        Assert.Equal(2, sides.Count);
        Assert.Contains(sides, q => q.Local == writerPort && q.Remote == readerPort && q.Receive == 0 && q.State == "01");

        var buffer = new byte[5000];
        await reader.GetStream().ReadExactlyAsync(buffer);
        Assert.Contains(Ports.QueuesBetween(readerPort, writerPort), q => q.Local == readerPort && q.Receive == 0);
    }
}
