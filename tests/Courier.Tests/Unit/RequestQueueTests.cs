using Courier.Broker.Internal;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

public sealed class RequestQueueTests
{
    private readonly QueueLedger _ledger = new();
    private readonly BrokerService _service;

    public RequestQueueTests() => _service = new BrokerService("svc", 0, _ledger);

    /// <summary>A request of client <paramref name="client"/> (its routing id) with a body of <paramref name="size"/> bytes.</summary>
    private BrokerRequest Request(ulong token, byte client = 1, int size = 0, int? clientId = null)
        => new BrokerRequest().Set(
            token,
            new InboundRequest(reuseArrays: true).SetRecord([clientId is { } id ? BitConverter.GetBytes(id) : [client]], token, "svc", new byte[size], null),
            _service);

    /// <summary>The order in which the queue hands its requests out (empties it).</summary>
    private static List<ulong> Drain(RequestQueue queue)
    {
        var tokens = new List<ulong>();
        while (queue.TakeFirst() is { } request)
        {
            tokens.Add(request.Token);
        }

        return tokens;
    }

    [Fact]
    public void A_full_queue_of_many_clients_with_one_request_each_looks_for_its_heaviest_lane_once_per_round()
    {
        // Full, every lane one request: each arrival asks for a surplus (none: no lane has two more), and each dispatch
        // empties a lane. The search for the heaviest is made again only once the lane it found is gone.
        const int clients = 2_000;
        var queue = _service.Queue;
        ulong token = 0;
        for (var i = 0; i < clients; i++)
        {
            queue.AddLast(Request(++token, clientId: i));
        }

        for (var i = 0; i < 4 * clients; i++)
        {
            Assert.NotNull(queue.TakeFirst());
            queue.AddLast(Request(++token, clientId: clients + i));
            Assert.Null(queue.Surplus([0xFF, 0xFF, 0xFF, 0xFF, 0xFF]));
        }

        Assert.Equal(clients, queue.Count);
        Assert.InRange(queue.LaneVisits, clients, 10L * clients); // a walk per dispatch would be 4 × 2,000 × 2,000
    }

    [Fact]
    public void Requests_leave_in_arrival_order_and_those_put_back_go_first()
    {
        var queue = _service.Queue;
        var (a, b, c, back) = (Request(1), Request(2), Request(3), Request(9));
        queue.AddLast(a);
        queue.AddLast(b);
        queue.AddLast(c);
        queue.AddFirst(back);

        Assert.Equal(4, queue.Count);
        Assert.Equal([9UL, 1, 2, 3], Drain(queue));
    }

    [Fact]
    public void A_request_is_unlinked_from_anywhere_and_the_ends_stay_right()
    {
        var queue = _service.Queue;
        var requests = Enumerable.Range(1, 5).Select(i => Request((ulong)i)).ToList();
        requests.ForEach(queue.AddLast);

        queue.Remove(requests[2]); // middle
        queue.Remove(requests[4]); // last
        queue.Remove(requests[0]); // first
        Assert.Null(requests[2].Lane);

        queue.AddLast(Request(6));
        queue.AddFirst(requests[0]);
        Assert.Equal(4, queue.Count);
        Assert.Equal([1UL, 2, 4, 6], Drain(queue));
    }

    [Fact]
    public void Removing_a_request_that_waits_elsewhere_changes_nothing_and_queueing_one_twice_throws()
    {
        var other = new BrokerService("other", 0, _ledger).Queue;
        var request = Request(1);
        _service.Queue.AddLast(request);

        other.Remove(request);
        Assert.Equal(1, _service.Queue.Count);
        Assert.Equal(0, other.Count);
        Assert.Throws<InvalidOperationException>(() => other.AddLast(request));
    }

    [Fact]
    public void Clients_take_turns_so_one_that_queued_many_first_delays_only_itself()
    {
        var queue = _service.Queue;
        for (ulong i = 1; i <= 5; i++)
        {
            queue.AddLast(Request(i, client: 1)); // the flood, first
        }

        queue.AddLast(Request(101, client: 2));
        queue.AddLast(Request(102, client: 2));
        queue.AddLast(Request(201, client: 3));

        Assert.Equal((5, 2, 1), (queue.CountOf([1]), queue.CountOf([2]), queue.CountOf([3])));
        Assert.Equal([1UL, 101, 201, 2, 102, 3, 4, 5], Drain(queue));
    }

    [Fact]
    public void A_request_put_back_gives_its_client_the_next_turn()
    {
        var queue = _service.Queue;
        queue.AddLast(Request(1, client: 1));
        queue.AddLast(Request(2, client: 2));
        queue.AddLast(Request(3, client: 2));
        queue.AddFirst(Request(9, client: 2));

        Assert.Equal([9UL, 1, 2, 3], Drain(queue));
    }

    [Fact]
    public void The_ledger_counts_requests_and_bytes_across_services_and_forgets_clients_with_nothing_waiting()
    {
        var other = new BrokerService("other", 0, _ledger);
        var small = Request(1, client: 1, size: 10);
        var large = new BrokerRequest().Set(2, new InboundRequest(reuseArrays: true).SetRecord([[1]], 2, "other", new byte[1000], null), other);
        _service.Queue.AddLast(small);
        other.Queue.AddLast(large);

        Assert.Equal(2, _ledger.Count);
        Assert.Equal(small.Bytes + large.Bytes, _ledger.Bytes);
        Assert.True(large.Bytes - small.Bytes >= 990);
        Assert.Equal(2, _ledger.Find([1])!.Lanes.Count);

        _service.Queue.Remove(small);
        other.Queue.TakeFirst();

        Assert.Equal((0, 0L, 0), (_ledger.Count, _ledger.Bytes, _ledger.Clients));
        Assert.Null(_ledger.Find([1]));
    }

    [Fact]
    public void A_cleared_request_holds_no_bytes_of_its_client()
    {
        var inbound = new InboundRequest(reuseArrays: true).SetRecord([[1, 2]], 42, "svc", new byte[] { 3, 4 }, null);
        var request = new BrokerRequest().Set(7, inbound, _service);
        request.Deaths = 2;

        request.Clear();
        inbound.Clear();

        Assert.Null(request.Inbound);
        Assert.Equal(0, inbound.BodyCount);
        Assert.Equal((0UL, 0, 0L), (request.Token, request.Deaths, request.Bytes));
    }
}
