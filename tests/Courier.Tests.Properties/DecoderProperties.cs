using System.Text;
using Courier.Protocol.Internal;
using CsCheck;

namespace Courier.Tests.Properties;

/// <summary>What each decoder promises for any bytes at all, and what its writer and reader promise together.</summary>
public sealed class DecoderProperties
{
    [Fact]
    public void Batch_records_read_back_exactly_as_written()
    {
        var records = Gen.Select(Gen.ULong, Gen.Byte.Array[0, 255], Gen.Byte.Array[0, 300]).Array[0, 40];
        records.Sample(input =>
        {
            var writer = new BatchWriter(Batch.ClientRequest);
            var added = input.TakeWhile(r => writer.TryAdd(r.Item1, r.Item2, r.Item3)).ToList();
            var reader = new BatchReader(writer.Frame.Span);
            foreach (var (id, tag, body) in added)
            {
                Assert.True(reader.TryRead(out var record));
                Assert.Equal(id, record.Id);
                Assert.Equal(tag, record.Tag.ToArray());
                Assert.Equal(body, record.Body.ToArray());
            }

            Assert.False(reader.TryRead(out _));
            Assert.False(reader.Malformed);
        });
    }

    [Fact]
    public void A_batch_reader_never_reads_past_its_frame_or_loops()
    {
        Generators.BatchFrame.Sample(frame =>
        {
            var reader = new BatchReader(frame);
            var read = 0;
            while (reader.TryRead(out var record))
            {
                Assert.InRange(record.BodyOffset + record.Body.Length, 0, frame.Length);
                Assert.True(++read <= frame.Length, "more records than bytes");
            }
        });
    }

    [Fact]
    public void A_service_name_decodes_only_to_the_text_of_its_bytes()
    {
        Gen.OneOf(Gen.Byte.Array[0, 300], Gen.String.Select(Encoding.UTF8.GetBytes)).Sample(bytes =>
        {
            if (Mdp.DecodeServiceName(bytes) is { } name)
            {
                Assert.Equal(bytes, Encoding.UTF8.GetBytes(name));
                Assert.InRange(bytes.Length, 1, Mdp.MaxServiceNameLength);
                Assert.DoesNotContain(name, c => char.IsControl(c));
            }
        });
    }

    [Fact]
    public void A_worker_capability_round_trips_and_any_bytes_parse_without_throwing()
    {
        Gen.Select(Gen.Int[2, ProtocolVersions.Newest], Gen.Int[1, 999_999_999], Gen.String[0, 80]).Sample((version, capacity, name) =>
        {
            var parsed = CourierWorkerFrame.ParseCapability(CourierWorkerFrame.Capability(version, capacity, name));
            Assert.Equal(version, parsed.Version);
            Assert.Equal(capacity, parsed.Capacity);
            if (parsed.Name is { } decoded)
            {
                Assert.InRange(Encoding.UTF8.GetByteCount(decoded), 1, WorkerName.MaxBytes);
            }
        });
        Generators.PrefixedFrame.Sample(frame =>
        {
            var parsed = CourierWorkerFrame.ParseCapability(frame);
            Assert.True(parsed.Version == 0 || parsed.Capacity > 0);
        });
    }

    [Fact]
    public void A_version_offer_is_answered_with_a_version_both_sides_know()
    {
        Generators.Frame.Sample(offer =>
        {
            var answer = ProtocolVersions.AnswerTo(offer);
            var version = ProtocolVersions.Of(answer);
            Assert.True(version == 0 || version is >= 2 and <= ProtocolVersions.Newest);
        });
    }

    [Fact]
    public void Decoding_any_client_message_never_throws_and_a_decoded_route_lies_inside_it()
    {
        Gen.Select(Gen.Byte.Array[1, 8], Generators.Frame.Array[0, 24]).Sample((routingId, rest) =>
        {
            byte[][] frames = [routingId, .. rest];
            var request = new InboundRequest(reuseArrays: false);
            if (ClientRequestDecoder.TryDecode(frames, request, "echo", out var reason))
            {
                Assert.Null(reason);
            }
            else
            {
                Assert.NotNull(reason);
            }
        });
    }
}
