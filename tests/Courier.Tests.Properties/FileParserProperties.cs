using System.Text;
using Courier.Fuzz;
using Courier.Security;
using Courier.Security.Internal;
using CsCheck;

namespace Courier.Tests.Properties;

/// <summary>
/// The files an operator gives Courier (certificates, the policy): whatever they hold, parsing either succeeds or
/// throws <see cref="InvalidDataException"/> naming the file (the fuzz targets' contract, <see cref="FileTarget"/>),
/// and what Courier writes it reads back.
/// </summary>
public sealed class FileParserProperties
{
    private static readonly FileTarget Certificate = (FileTarget)FuzzTarget.Named("certificate");
    private static readonly FileTarget Policy = (FileTarget)FuzzTarget.Named("policy");

    // What each format gives meaning to, so mutations land on its structure and not only in its strings.
    private static readonly string[] Tokens =
    [
        "\n", "\r\n", "\r", " ", "    ", "\t", "#", "=", "\"", "'", "metadata", "curve", "public-key", "secret-key", "\0",
        "{", "}", "[", "]", ",", ":", "\\", "\\u", "\\ud800", "\\udc00", "/*", "*/", "//", "clients", "workers", "*", ".*",
        "\uFFFD", "\uD800", "é", "rF8N?9J$K1s6Lx@2bHwq^c7Vt&3mEpZu!dYgA0oR",
    ];

    private static readonly string[] Valid = [.. FileSeeds.All().Select(s => s.Text)];

    private static readonly Gen<string> Text = Gen.OneOf(
        Gen.String,
        Gen.Char.Array[0, 400].Select(c => new string(c)),
        Gen.OneOf(Tokens).Array[0, 60].Select(string.Concat),
        Gen.Byte.Array[0, 400].Select(b => FileTarget.Read(b)));

    // A valid file with edits: text inserted (tokens or random), a range deleted, a range repeated.
    private static readonly Gen<string> Mutated = Gen.OneOf(Valid).SelectMany(valid =>
        Gen.Select(Gen.Int[0, 2], Gen.Double[0, 1], Gen.Double[0, 1], Gen.OneOf(Gen.OneOf(Tokens), Gen.String[0, 8]))
            .Array[1, 8]
            .Select(edits => edits.Aggregate(valid, (text, e) =>
            {
                var at = (int)(e.Item2 * text.Length);
                var length = Math.Min((int)(e.Item3 * 16), text.Length - at);
                return e.Item1 switch
                {
                    0 => text.Insert(at, e.Item4),
                    1 => text.Remove(at, length),
                    _ => text.Insert(at, text.Substring(at, length)),
                };
            })));

    [Fact]
    public void No_text_makes_a_file_parser_throw_anything_but_invalid_data_naming_the_file()
    {
        Gen.OneOf(Text, Mutated).Sample(text =>
        {
            Certificate.Run(text);
            Policy.Run(text);
        }, iter: 5_000);
    }

    [Fact]
    public void A_generated_certificate_reads_back_as_written_or_its_metadata_is_refused()
    {
        var metadata = Gen.Select(Gen.OneOf(Gen.String[0, 12], Gen.Char["abcxyz-_.@/$&+"].Array[1, 12].Select(c => new string(c))), Gen.OneOf(Gen.String[0, 40], Gen.OneOf(Tokens)))
            .Array[0, 5]
            .Select(pairs => pairs.DistinctBy(p => p.Item1).ToDictionary(p => p.Item1, p => p.Item2, StringComparer.Ordinal));
        metadata.Sample(data =>
        {
            CurveCertificate generated;
            try
            {
                generated = CurveCertificate.Generate(data);
            }
            catch (ArgumentException)
            {
                return;
            }

            foreach (var secret in (bool[])[false, true])
            {
                var parsed = CertificateFile.Parse(CertificateFile.Format(generated, secret), "alice.key");
                Assert.Equal(generated.PublicKey, parsed.PublicKey);
                Assert.Equal(secret ? generated.SecretKey : null, parsed.SecretKey);
                Assert.Equal(data.OrderBy(m => m.Key, StringComparer.Ordinal), parsed.Metadata.OrderBy(m => m.Key, StringComparer.Ordinal));
            }
        }, iter: 1_000);
    }

    [Fact]
    public void Metadata_a_certificate_file_cannot_hold_is_refused_when_generating()
    {
        Assert.Throws<ArgumentException>(() => CurveCertificate.Generate(new Dictionary<string, string> { ["two\nlines"] = "x" }));
        Assert.Throws<ArgumentException>(() => CurveCertificate.Generate(new Dictionary<string, string> { ["a=b"] = "x" }));
        Assert.Throws<ArgumentException>(() => CurveCertificate.Generate(new Dictionary<string, string> { ["note"] = "two\nlines" }));
        Assert.Throws<ArgumentException>(() => CurveCertificate.Generate(new Dictionary<string, string> { ["note"] = "both \" and ' # here" }));
        Assert.Equal("say \"hi\"", CertificateFile.Parse(CertificateFile.Format(CurveCertificate.Generate(new Dictionary<string, string> { ["note"] = "say \"hi\"" }), false), "a.key").Metadata["note"]);
    }

    [Fact]
    public void A_policy_naming_a_section_or_peer_twice_is_refused()
    {
        Assert.Throws<InvalidDataException>(() => ServicePolicy.Parse("""{ "clients": { "a": ["*"] }, "clients": {} }""", "p.json"));
        Assert.Throws<InvalidDataException>(() => ServicePolicy.Parse("""{ "clients": { "a": ["*"], "a": ["echo"] } }""", "p.json"));
    }

    [Fact]
    public void Half_a_surrogate_pair_in_a_policy_is_invalid_data_when_escaped_and_read_as_U_FFFD_when_not()
    {
        Assert.Throws<InvalidDataException>(() => ServicePolicy.Parse("""{ "clients": { "a": ["\ud800"] } }""", "p.json"));
        Assert.Throws<InvalidDataException>(() => ServicePolicy.Parse("""{ "clients": { "\udc00": [] } }""", "p.json"));
        Assert.True(ServicePolicy.Parse("{ \"clients\": { \"a\": [\"\uD800\"] } }", "p.json").MayCall("key", "a", "\uFFFD"));
    }

    public static TheoryData<string, string> LargeInputs()
    {
        // 64 KiB of each shape that could make a parser's work grow faster than its input, or its stack overflow.
        const int Size = 64 * 1024;
        static string Repeat(string unit, string head = "", string tail = "")
            => head + string.Concat(Enumerable.Repeat(unit, (Size - head.Length - tail.Length) / unit.Length)) + tail;
        return new TheoryData<string, string>
        {
            { "policy", Repeat("[") },
            { "policy", Repeat("{\"a\":", "{\"clients\":") },
            { "policy", Repeat("\"x\",", "{\"clients\":{\"a\":[", "]}}") },
            { "policy", Repeat("\"orders.*\",", "{\"clients\":{\"a\":[", "]}}") },
            { "policy", Repeat("// comment\n", "{", "}") },
            { "policy", Repeat("\\u0041", "{\"clients\":{\"", "\":[]}}") },
            { "certificate", Repeat("\n") },
            { "certificate", Repeat("    k = \"v\"\n", "metadata\n") },
            { "certificate", Repeat("x", "metadata\n    k = \"", "\"\n") },
            { "certificate", Repeat("    public-key = \"rF8N?9J$K1s6Lx@2bHwq^c7Vt&3mEpZu!dYgA0oR\"\n", "curve\n") },
            { "certificate", Repeat("=", "metadata\n    k ") },
            { "certificate", Repeat("#") },
        };
    }

    [Theory]
    [MemberData(nameof(LargeInputs))]
    public void A_64_KiB_file_of_any_shape_is_parsed_or_refused(string target, string text)
    {
        ((FileTarget)FuzzTarget.Named(target)).Run(text);
        Assert.InRange(Encoding.UTF8.GetByteCount(text), 60 * 1024, 64 * 1024);
    }
}
