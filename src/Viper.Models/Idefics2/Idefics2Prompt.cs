using System.Text;

namespace Viper.Models.Idefics2;

/// <summary>
/// The text side of transformers' Idefics2Processor (4.42): the chat template, and the expansion of each
/// <c>&lt;image&gt;</c> into the tokens the image states will fill.
/// </summary>
public static class Idefics2Prompt
{
    public const string ImageToken = "<image>";
    public const string FakeImageToken = "<fake_token_around_image>";
    public const string EndOfUtterance = "<end_of_utterance>";

    /// <summary>
    /// Idefics2Processor's default chat template: per message the capitalised role, ":" when its first part is an image
    /// and ": " otherwise, the parts (images as <c>&lt;image&gt;</c>), then <c>&lt;end_of_utterance&gt;\n</c>;
    /// <c>Assistant:</c> at the end when a generation prompt is asked for.
    /// </summary>
    public static string RenderChat(IReadOnlyList<ChatMessage> messages, bool addGenerationPrompt = true)
    {
        var text = new StringBuilder();
        foreach (ChatMessage message in messages)
        {
            if (message.Content.Count == 0)
            {
                throw new ArgumentException($"a '{message.Role}' message has no content");
            }

            text.Append(Capitalize(message.Role)).Append(message.Content[0].Type == "image" ? ":" : ": ");
            foreach (ChatPart part in message.Content)
            {
                text.Append(part.Type == "image" ? ImageToken : part.Value);
            }

            text.Append(EndOfUtterance).Append('\n');
        }

        return addGenerationPrompt ? text.Append("Assistant:").ToString() : text.ToString();
    }

    /// <summary>
    /// Each <c>&lt;image&gt;</c> becomes fake + <paramref name="imageSequenceLength"/> × image + fake (five times over with
    /// image splitting: four crops and the whole image); adjacent images share their fake token.
    /// </summary>
    public static string ExpandImages(string text, int imageSequenceLength, bool imageSplitting)
    {
        string one = FakeImageToken + string.Concat(Enumerable.Repeat(ImageToken, imageSequenceLength)) + FakeImageToken;
        string expanded = text.Replace(ImageToken, imageSplitting ? string.Concat(Enumerable.Repeat(one, 5)) : one, StringComparison.Ordinal);
        return expanded.Replace(FakeImageToken + FakeImageToken, FakeImageToken, StringComparison.Ordinal);
    }

    /// <summary>How many images the text asks for.</summary>
    public static int CountImages(string text)
    {
        int count = 0;
        for (int at = text.IndexOf(ImageToken, StringComparison.Ordinal); at >= 0; at = text.IndexOf(ImageToken, at + ImageToken.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    // Python's str.capitalize: the first character upper-cased, the rest lower-cased.
    private static string Capitalize(string role) =>
        role.Length == 0 ? role : char.ToUpperInvariant(role[0]) + role[1..].ToLowerInvariant();
}
