using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

public sealed class BatchTests
{
    [Fact]
    public void Records_written_are_read_back_in_order_with_their_ids_tags_and_bodies()
    {
        var writer = new BatchWriter(Batch.ClientRequest);
        Assert.True(writer.TryAdd(1, "echo"u8, "first"u8));
        Assert.True(writer.TryAdd(ulong.MaxValue, "other"u8, []));
        Assert.True(writer.TryAdd(3, [], new byte[Batch.MaxBodyLength]));

        var frame = writer.Frame.ToArray();
        Assert.True(Batch.Is(frame, Batch.ClientRequest));
        Assert.False(Batch.Is(frame, Batch.ClientReply));
        Assert.Equal("CURB03\u0001"u8.ToArray(), frame[..7]);

        var reader = new BatchReader(frame);
        var read = new List<(ulong, string, int, int)>();
        while (reader.TryRead(out var record))
        {
            Assert.Equal(record.Body.ToArray(), frame.AsSpan(record.BodyOffset, record.Body.Length).ToArray());
            read.Add((record.Id, System.Text.Encoding.ASCII.GetString(record.Tag), record.Body.Length, record.Body.IsEmpty ? -1 : record.Body[0]));
        }

        Assert.False(reader.Malformed);
        Assert.Equal([(1UL, "echo", 5, 'f'), (ulong.MaxValue, "other", 0, -1), (3UL, "", Batch.MaxBodyLength, 0)], read);
        Assert.Equal(3, writer.Count);
    }

    [Theory]
    [InlineData(Batch.ClientRequest)]
    [InlineData(Batch.ClientRequest5)]
    public void Records_dropped_by_compaction_leave_the_others_whole_and_in_order(byte kind)
    {
        var client = new ClientIdentity(0x0102030405060708, 0x090A0B0C0D0E0F10);
        var writer = new BatchWriter(kind);
        writer.SetClient(client);
        foreach (var id in new ulong[] { 1, 2, 3, 4, 5 })
        {
            byte[] meta = [(byte)id, 0, 0, 0, 0, 9];
            Assert.True(writer.TryAdd(id, "svc"u8, meta, "h"u8, System.Text.Encoding.ASCII.GetBytes(new string((char)('a' + (int)id), (int)id * 3))));
        }

        var whole = writer.Frame.Length;
        writer.Compact(index => index is 0 or 2); // the first, one in the middle; not the last two
        Assert.Equal(2, writer.Count);
        Assert.True(writer.Frame.Length < whole);

        var reader = new BatchReader(writer.Frame.Span);
        var read = new List<(ulong, string, int)>();
        while (reader.TryRead(out var record))
        {
            Assert.Equal("svc", System.Text.Encoding.ASCII.GetString(record.Tag));
            read.Add((record.Id, System.Text.Encoding.ASCII.GetString(record.Body), record.Meta.IsEmpty ? -1 : record.Meta[0]));
        }

        Assert.False(reader.Malformed);
        var hasMeta = Batch.HasMeta(kind);
        Assert.Equal([(1UL, "bbb", hasMeta ? 1 : -1), (3UL, "ddddddddd", hasMeta ? 3 : -1)], read);
        Assert.Equal(Batch.HasClient(kind) ? client : default, reader.Client);

        // Down to one, it goes alone; down to none, nothing goes, and the writer takes records again.
        writer.Compact(index => index == 1);
        Assert.Equal(3UL, writer.Single().Id);
        writer.Compact(_ => false);
        Assert.Equal(0, writer.Count);
        Assert.True(writer.TryAdd(6, "svc"u8, [6, 0, 0, 0, 0, 9], [], "e"u8));
        Assert.Equal(6UL, writer.Single().Id);
    }

    [Fact]
    public void A_batch_compacted_to_nothing_gives_its_rented_buffer_back()
    {
        var writer = new BatchWriter(Batch.ClientRequest, Batch.FrameBound(large: true));
        var added = 0UL;
        while (writer.TryAdd(added++, "svc"u8, new byte[8 * 1024]))
        {
        }

        Assert.True(writer.Renting);
        writer.Compact(index => index % 2 == 0);
        Assert.True(writer.Renting); // still a batch past 64 KiB, in the same buffer
        writer.Compact(_ => false);
        Assert.False(writer.Renting);
    }

    [Fact]
    public void A_writer_for_one_small_record_allocates_what_the_record_needs_and_grows_to_the_batch_bound()
    {
        // A server packs each client's replies in a writer of its own: a thousand clients sending batches of one record
        // each cost a thousand writers in one turn, 64 KiB each before they grew as records came.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var writer = new BatchWriter(Batch.ClientReply);
        Assert.True(writer.TryAdd(1, "200"u8, "pong"u8));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 4 * 1024, "a writer of one small record allocated 4 KiB or more");

        var added = 0;
        while (writer.TryAdd((ulong)added + 2, "200"u8, new byte[1000]))
        {
            added++;
        }

        Assert.InRange(writer.Frame.Length, Batch.MaxFrameLength - 1100, Batch.MaxFrameLength);
        var reader = new BatchReader(writer.Frame.Span);
        var read = 0;
        while (reader.TryRead(out var record))
        {
            Assert.Equal((ulong)read + 1, record.Id);
            read++;
        }

        Assert.Equal(added + 1, read);
    }

    [Fact]
    public void A_full_batch_refuses_a_record_and_takes_it_again_after_reset()
    {
        var writer = new BatchWriter(Batch.WorkerRequest);
        var body = new byte[Batch.MaxBodyLength];
        var added = 0;
        while (writer.TryAdd((ulong)added, [], body))
        {
            added++;
        }

        Assert.Equal((Batch.MaxFrameLength - Batch.PrefixLength) / (Batch.RecordOverhead + body.Length), added);
        Assert.True(writer.Frame.Length <= Batch.MaxFrameLength);

        writer.Reset();
        Assert.Equal(0, writer.Count);
        Assert.True(writer.TryAdd(42, "200"u8, "x"u8));
        var single = writer.Single();
        Assert.Equal((42UL, "200", "x"), (single.Id, System.Text.Encoding.ASCII.GetString(single.Tag), System.Text.Encoding.ASCII.GetString(single.Body)));
    }

    [Theory]
    [InlineData(5)] // shorter than a record's fixed part
    [InlineData(12)] // cut inside the tag
    [InlineData(17)] // cut inside the body
    public void A_cut_record_marks_the_batch_malformed_after_the_whole_ones(int keep)
    {
        var writer = new BatchWriter(Batch.ClientReply);
        writer.TryAdd(7, "200"u8, "whole"u8);
        var whole = writer.Frame.Length;
        writer.TryAdd(8, "200"u8, "cut off"u8);
        var frame = writer.Frame[..(whole + keep)].ToArray();

        var reader = new BatchReader(frame);
        Assert.True(reader.TryRead(out var first));
        Assert.Equal(7UL, first.Id);
        Assert.False(reader.TryRead(out _));
        Assert.True(reader.Malformed);
    }

    [Fact]
    public void A_body_length_past_the_frame_or_negative_is_malformed()
    {
        byte[] frame = [.. "CURB03\u0002"u8, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0x7F, 0xFF, 0xFF, 0xFF];
        var reader = new BatchReader(frame);
        Assert.False(reader.TryRead(out _));
        Assert.True(reader.Malformed);

        frame[^4] = 0xFF; // -1
        reader = new BatchReader(frame);
        Assert.False(reader.TryRead(out _));
        Assert.True(reader.Malformed);
    }

    [Theory]
    [InlineData(false, 8 * 1024)]
    [InlineData(true, 32 * 1024)] // courier/7
    public void Only_one_frame_up_to_the_peers_body_bound_may_go_into_a_batch(bool large, int bound)
    {
        Assert.True(Batch.Fits(1, bound, large));
        Assert.False(Batch.Fits(1, bound + 1, large));
        Assert.False(Batch.Fits(2, 10, large));
        Assert.False(Batch.Fits(0, 0, large));
    }

    [Fact]
    public void A_writer_for_a_courier7_peer_packs_16_KiB_bodies_up_to_its_larger_bound()
    {
        var writer = new BatchWriter(Batch.WorkerReply, Batch.FrameBound(large: true));
        var body = new byte[16 * 1024];
        var added = 0;
        while (writer.TryAdd((ulong)added, "200"u8, body))
        {
            added++;
        }

        Assert.Equal((Batch.LargeMaxFrameLength - Batch.PrefixLength) / (Batch.RecordOverhead + 3 + body.Length), added);
        Assert.Null(Batch.TooLarge(writer.Frame.Length));
        Assert.True(writer.Renting); // past 64 KiB the buffer is rented for this batch only

        // Emptied and given to a peer before courier/7, the same writer keeps to that peer's bound.
        writer.Reset();
        writer.MaxLength = Batch.FrameBound(large: false);
        added = 0;
        while (writer.TryAdd((ulong)added, "200"u8, body))
        {
            added++;
        }

        Assert.Equal(3, added);
        Assert.True(writer.Frame.Length <= Batch.MaxFrameLength);
        Assert.False(writer.Renting);
    }

    [Fact]
    public void A_client_writer_gives_back_its_rented_buffer_and_keeps_its_prefix_for_the_next_batch()
    {
        var client = new ClientIdentity(0x0102030405060708, 0x090A0B0C0D0E0F10);
        var writer = new BatchWriter(Batch.ClientRequest5, Batch.FrameBound(large: true));
        writer.SetClient(client);
        byte[] meta = [1, 0, 0, 0, 0, 0];
        for (ulong id = 0; writer.TryAdd(id, "echo"u8, meta, default, new byte[30 * 1024]); id++)
        {
        }

        Assert.True(writer.Renting);
        Assert.Equal(client, new BatchReader(writer.Frame.Span).Client);
        writer.Reset();
        Assert.False(writer.Renting);

        Assert.True(writer.TryAdd(42, "echo"u8, meta, default, "small"u8));
        var reader = new BatchReader(writer.Frame.Span);
        Assert.Equal(client, reader.Client);
        Assert.True(reader.TryRead(out var record));
        Assert.Equal((42UL, "small"), (record.Id, System.Text.Encoding.ASCII.GetString(record.Body)));
        Assert.True(writer.Frame.Length < 1024);
    }
}
