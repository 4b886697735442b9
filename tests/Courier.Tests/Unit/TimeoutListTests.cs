using Courier.Client.Internal;

namespace Courier.Tests.Unit;

public sealed class TimeoutListTests
{
    private static PendingRequest Request(ulong id) => new(id, "echo", "echo"u8.ToArray(), [], continueInline: false);

    /// <summary>An attempt list holding requests 1..<paramref name="count"/>, in that order.</summary>
    private static (TimeoutList List, PendingRequest[] Requests) Listed(int count)
    {
        var list = new TimeoutList(TimeoutKind.Attempt);
        var requests = Enumerable.Range(1, count).Select(i => Request((ulong)i)).ToArray();
        foreach (var request in requests)
        {
            list.AddLast(request);
        }

        return (list, requests);
    }

    private static List<ulong> Ids(TimeoutList list)
    {
        var ids = new List<ulong>();
        while (list.First is { } first)
        {
            ids.Add(first.Id);
            list.Remove(first);
        }

        return ids;
    }

    [Fact]
    public void Deadlines_of_their_own_come_out_soonest_first_and_equal_ones_in_the_order_added()
    {
        // A request's own Deadline (CourierRequestOptions.Deadline) may be shorter than those listed before it: listed
        // behind them, it would fail only when they do.
        var list = new TimeoutList(TimeoutKind.Deadline);
        long[] deadlines = [60, 5, 30, 5, 90, 1];
        var requests = deadlines.Select((deadline, i) => Request((ulong)i + 1)).ToArray();
        for (var i = 0; i < requests.Length; i++)
        {
            requests[i].Deadline = deadlines[i];
            list.AddInOrder(requests[i]);
        }

        list.Remove(requests[2]); // from the middle: the rest stay linked

        Assert.Equal([6UL, 2, 4, 1, 5], Ids(list));
    }

    [Fact]
    public void Requests_come_out_in_the_order_they_were_added()
    {
        var (list, _) = Listed(3);

        Assert.Equal([1UL, 2, 3], Ids(list));
    }

    [Fact]
    public void Removing_from_the_middle_the_head_or_the_tail_keeps_the_rest_linked()
    {
        var (list, requests) = Listed(5);

        list.Remove(requests[2]);
        list.Remove(requests[0]);
        list.Remove(requests[4]);
        list.Remove(requests[4]); // twice: no effect

        Assert.Equal([2UL, 4], Ids(list));
    }

    [Fact]
    public void Adding_a_listed_request_again_moves_it_to_the_end()
    {
        var (list, requests) = Listed(3);

        list.AddLast(requests[0]);

        Assert.Equal([2UL, 3, 1], Ids(list));
    }

    [Fact]
    public void The_two_kinds_of_list_hold_one_request_independently()
    {
        var attempts = new TimeoutList(TimeoutKind.Attempt);
        var deadlines = new TimeoutList(TimeoutKind.Deadline);
        var request = Request(7);
        request.AttemptDeadline = 10;
        request.Deadline = 20;
        attempts.AddLast(request);
        deadlines.AddLast(request);

        attempts.Remove(request);

        Assert.Null(attempts.First);
        Assert.Same(request, deadlines.First);
        Assert.Equal(20, deadlines.DueOf(request));
        Assert.Equal(10, attempts.DueOf(request));
    }

    [Fact]
    public void Clear_unlinks_every_request_so_each_can_be_listed_again()
    {
        var (list, requests) = Listed(3);

        list.Clear();
        list.AddLast(requests[1]);

        Assert.Equal([2UL], Ids(list));
    }
}
