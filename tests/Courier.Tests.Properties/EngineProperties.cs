using Courier.Fuzz;
using CsCheck;

namespace Courier.Tests.Properties;

/// <summary>
/// Whatever a peer sends, in whatever order, no exception escapes an engine's handling of it: a decoder that throws
/// would end its loop's turn and drop what else arrived with the message. Runs every engine fuzz target on generated scripts.
/// </summary>
public sealed class EngineProperties
{
    public static TheoryData<string> Targets => [.. FuzzTarget.Engines.Select(t => t.Name)];

    [Theory]
    [MemberData(nameof(Targets))]
    public void No_sequence_of_messages_makes_an_engine_throw(string target)
    {
        var fuzzTarget = FuzzTarget.Engines.Single(t => t.Name == target);
        Generators.Script.Sample(steps => fuzzTarget.Run(steps, checkAmplification: false), iter: 2_000);
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Scripts_survive_the_fuzz_input_encoding_unchanged(string target)
    {
        _ = target;
        Generators.Script.Sample(steps =>
        {
            var parsed = FuzzInput.Parse(FuzzInput.Write(steps));
            Assert.Equal(steps.Length, parsed.Count);
            for (var i = 0; i < steps.Length; i++)
            {
                Assert.Equal(steps[i].Kind, parsed[i].Kind);
                Assert.Equal(steps[i].Peer, parsed[i].Peer);
                Assert.Equal(steps[i].Frames, parsed[i].Frames);
            }
        }, iter: 200);
    }
}
