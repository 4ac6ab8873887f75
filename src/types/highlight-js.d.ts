// The part of highlight.js we use. Its own typings pull in the DOM library, whose
// Response and stream types clash with the Workers runtime's.
declare const hljs: {
  getLanguage(name: string): object | undefined;
  highlight(code: string, options: { language: string; ignoreIllegals?: boolean }): { value: string };
};
export default hljs;
