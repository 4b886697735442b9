using Courier.Broker.Internal;

namespace Courier.Tests.Unit;

public sealed class RequestQueueTests
{
    private static readonly BrokerService Service = new("svc", 0);

    private static BrokerRequest Request(ulong token) => new BrokerRequest().Set(token, new Courier.Protocol.Internal.InboundRequest(reuseArrays: true), Service);

    private static List<ulong> Tokens(RequestQueue queue)
    {
        var tokens = new List<ulong>();
        for (var request = queue.First; request is not null; request = request.QueueNext)
        {
            tokens.Add(request.Token);
        }

        return tokens;
    }

    [Fact]
    public void Requests_leave_in_arrival_order_and_those_put_back_go_first()
    {
        var queue = new RequestQueue();
        var (a, b, c, back) = (Request(1), Request(2), Request(3), Request(9));
        queue.AddLast(a);
        queue.AddLast(b);
        queue.AddLast(c);
        queue.AddFirst(back);

        Assert.Equal([9UL, 1, 2, 3], Tokens(queue));
        Assert.Equal(4, queue.Count);

        queue.Remove(queue.First!);
        queue.Remove(queue.First!);
        Assert.Equal([2UL, 3], Tokens(queue));
    }

    [Fact]
    public void A_request_is_unlinked_from_anywhere_and_the_ends_stay_right()
    {
        var queue = new RequestQueue();
        var requests = Enumerable.Range(1, 5).Select(i => Request((ulong)i)).ToList();
        requests.ForEach(queue.AddLast);

        queue.Remove(requests[2]); // middle
        queue.Remove(requests[4]); // last
        queue.Remove(requests[0]); // first
        Assert.Equal([2UL, 4], Tokens(queue));

        queue.AddLast(Request(6));
        queue.AddFirst(requests[0]);
        Assert.Equal([1UL, 2, 4, 6], Tokens(queue));
        Assert.Equal(4, queue.Count);
        Assert.Null(requests[2].Queue);
    }

    [Fact]
    public void Removing_a_request_that_waits_elsewhere_changes_nothing_and_queueing_one_twice_throws()
    {
        var (one, other) = (new RequestQueue(), new RequestQueue());
        var request = Request(1);
        one.AddLast(request);

        other.Remove(request);
        Assert.Equal(1, one.Count);
        Assert.Equal(0, other.Count);
        Assert.Throws<InvalidOperationException>(() => other.AddLast(request));
    }

    [Fact]
    public void A_cleared_request_holds_no_bytes_of_its_client()
    {
        var inbound = new Courier.Protocol.Internal.InboundRequest(reuseArrays: true).SetRecord([[1, 2]], 42, "svc", new byte[] { 3, 4 }, null);
        var request = new BrokerRequest().Set(7, inbound, Service);
        request.Deaths = 2;

        request.Clear();
        inbound.Clear();

        Assert.Null(request.Inbound);
        Assert.Equal(0, inbound.BodyCount);
        Assert.Equal((0UL, 0), (request.Token, request.Deaths));
    }
}
